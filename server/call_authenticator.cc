#include "server/call_authenticator.h"

#include "core/logging/logging.h"
#include "server/grpc_status.h"

namespace camserve {
namespace {

constexpr char kAuthorizationKey[] = "authorization";

std::optional<std::string_view> AuthorizationOf(const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find(kAuthorizationKey);
  if (found == metadata.end()) return std::nullopt;
  return std::string_view(found->second.data(), found->second.size());
}

}  // namespace

grpc::Status CallAuthenticator::Check(const grpc::CallbackServerContext& context, const char* rpc, TokenRole required,
                                      const std::string& request_id) const {
  return ToGrpcStatus(CheckAuthorization(AuthorizationOf(context), rpc, required, request_id));
}

Status CallAuthenticator::CheckAuthorization(std::optional<std::string_view> authorization, const char* rpc,
                                             TokenRole required, const std::string& request_id) const {
  if (tokens_ == nullptr) return Status::Ok();
  const AuthDecision decision = tokens_->Current()->Authorize(authorization, required);
  if (decision.status.ok()) return Status::Ok();
  if (metrics_ != nullptr) metrics_->RecordAuthFailure(AuthFailureName(decision.failure));
  AccessRecord record;
  record.request_id = request_id;
  record.rpc = rpc;
  record.status = StatusCodeName(decision.status.code());
  record.message = decision.status.message();
  LogAccess(record);
  return decision.status;
}

}  // namespace camserve
