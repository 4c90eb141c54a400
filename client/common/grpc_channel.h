// Client-side gRPC plumbing shared by camserve-client, camserve-bench and the
// integration tests: one way to open a channel to camserve and one mapping
// from grpc::Status to camserve::Status.
//
// Thread-safety: free functions; the returned channel is thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "core/util/status.h"

namespace camserve {

struct ClientChannelOptions {
  // Largest response accepted, in bytes. A FLOAT32 heatmap at ORIGINAL
  // resolution of a 12-megapixel photo is 48 MiB. Default: 256 MiB.
  int max_receive_message_bytes = 256 << 20;
};

// An insecure channel to `address` ("host:port"). Does not connect yet.
std::shared_ptr<grpc::Channel> MakeExplainerChannel(const std::string& address,
                                                    const ClientChannelOptions& options = {});

// The same code and message as a camserve::Status.
Status FromGrpcStatus(const grpc::Status& status);

}  // namespace camserve
