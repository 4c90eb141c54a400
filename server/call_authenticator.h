// CallAuthenticator: token authentication of camserve.v1.Explainer calls
// (gRPC, and the HTTP API's), the transport side of
// core/security/token_authenticator.h. A handler calls Check
// first, before any work (no cache lookup, no decoding); a refused call is
// counted in camserve_auth_failures_total{reason}, gets one access-log line
// with its code, and is finished by the handler with the returned status.
// The tokens are the token file's current ones (core/security/token_file.h:
// re-read when the file changes). Without a token file every call passes.
// The health service does not go through here: it stays open.
//
// Thread-safety: immutable; Check may be called from any number of threads.
// Ownership: the token file (may be null: no authentication) and the metrics
// (may be null) are borrowed and must outlive the gRPC server.
#pragma once

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>
#include <string_view>

#include "core/metrics/server_metrics.h"
#include "core/security/token_file.h"

namespace camserve {

class CallAuthenticator {
 public:
  CallAuthenticator(TokenFile* tokens, ServerMetrics* metrics) : tokens_(tokens), metrics_(metrics) {}

  // OK, or UNAUTHENTICATED / PERMISSION_DENIED for the call `rpc` (its name
  // in the access log) that needs `required`; `request_id` is logged with a
  // refusal.
  grpc::Status Check(const grpc::CallbackServerContext& context, const char* rpc, TokenRole required,
                     const std::string& request_id = "") const;
  // As Check, for a call of another transport (HTTP) whose `authorization`
  // value is given (nullopt: none).
  Status CheckAuthorization(std::optional<std::string_view> authorization, const char* rpc, TokenRole required,
                            const std::string& request_id = "") const;

 private:
  TokenFile* const tokens_;
  ServerMetrics* const metrics_;
};

}  // namespace camserve
