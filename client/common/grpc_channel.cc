#include "client/common/grpc_channel.h"

namespace camserve {

std::shared_ptr<grpc::Channel> MakeExplainerChannel(const std::string& address, const ClientChannelOptions& options) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
}

Status FromGrpcStatus(const grpc::Status& status) {
  return Status(static_cast<StatusCode>(status.error_code()), status.error_message());
}

}  // namespace camserve
