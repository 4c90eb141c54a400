// Client-side gRPC plumbing shared by camserve-client, camserve-bench and the
// integration tests: one way to open a channel to camserve (plaintext, TLS
// or mutual TLS, with or without a bearer token) and one mapping from
// grpc::Status to camserve::Status.
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
  // TLS instead of plaintext. Default: false.
  bool tls = false;
  // PEM roots the server's certificate must chain to; empty: the system's
  // roots. Only with tls.
  std::string tls_root_certs_pem;
  // PEM certificate chain and private key presented to a server that asks
  // for a client certificate (mutual TLS); both or neither. Only with tls.
  std::string tls_cert_chain_pem;
  std::string tls_private_key_pem;
  // The name the server's certificate must hold, instead of the address's
  // host. Only with tls; empty: the host.
  std::string tls_server_name;
  // Sent as `authorization: Bearer <token>` with every call; empty: none.
  std::string token;
};

// A channel to `address` ("host:port"). Does not connect yet. Each channel
// has its own connections (a local subchannel pool), so channels with
// different credentials never share one.
std::shared_ptr<grpc::Channel> MakeExplainerChannel(const std::string& address,
                                                    const ClientChannelOptions& options = {});

// The same code and message as a camserve::Status.
Status FromGrpcStatus(const grpc::Status& status);

}  // namespace camserve
