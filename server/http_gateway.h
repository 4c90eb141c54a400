// HttpGateway: camserve's HTTP/JSON API (docs/http.md), served in-process
// beside the gRPC server by cpp-httplib (Debian's libcpp-httplib, built with
// OpenSSL: Debian's civetweb crashes serving TLS with OpenSSL 3), through the same request pipeline
// (core/serving/explain_pipeline.h: the same limits, deadlines, cache,
// coalescing, access log and metrics), the same TLS files and the same
// bearer tokens (server/call_authenticator.h).
//
//   POST /v1/explain                  an ExplainRequest in protobuf's canonical
//                                     JSON mapping (image as base64) -> the
//                                     ExplainResponse in the same mapping
//   GET  /v1/models                   {"models": [names]}
//   GET  /v1/models/{model}           KServe v1 model status, with camserve's
//                                     ModelInfo under "info"
//   POST /v1/models/{model}:predict   KServe v1: {"instances": [...],
//                                     "parameters": {...}} -> {"predictions"}
//   POST /v1/models/{model}:explain   ... -> {"predictions", "explanations"}
//   GET  /v2/health/live, /v2/health/ready   (no token needed)
//   GET  /, /explorer.css, /explorer.js       the explorer page
//                                     (server/explorer_assets.h; no token
//                                     needed, its API calls need one)
//
// Errors are JSON, {"error": message, "code": "INVALID_ARGUMENT"}, with the
// HTTP status of HttpStatusOf. A request's deadline comes from the
// `X-Camserve-Timeout-Ms` header, else limits.default_deadline_ms applies.
// The HTTP API cannot see a client that disconnects: its request runs on
// (bounded by its deadline).
//
// Threads: one accepts; Options::threads serve connections, each busy for a
// whole connection (a keep-alive connection holds its thread between
// requests for up to 5 s); more connections wait for a thread.
// Thread-safety: Start, StartDraining and the destructor from one thread;
// requests are served concurrently.
// Ownership: the pipeline, registry and metrics (may be null) are borrowed
// and must outlive the gateway; so must what the authenticator borrows.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "core/metrics/server_metrics.h"
#include "core/serving/explain_pipeline.h"
#include "core/serving/model_registry.h"
#include "server/call_authenticator.h"

namespace httplib {
class Server;
}

namespace camserve {

// The HTTP status of a camserve status code (as Google's API guidelines and
// grpc-gateway map them): OK 200, INVALID_ARGUMENT / FAILED_PRECONDITION /
// OUT_OF_RANGE 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND
// 404, ALREADY_EXISTS 409, RESOURCE_EXHAUSTED 429, CANCELLED 499,
// UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED 504, others 500.
int HttpStatusOf(StatusCode code);

class HttpGateway {
 public:
  struct Options {
    // HOST:PORT; port 0 picks a free one (see port()).
    std::string listen;
    // Both set: HTTPS with this certificate chain and key (PEM); with
    // tls_client_ca_file, clients must present a certificate it signed.
    // Read once, at Start.
    std::string tls_cert_file;
    std::string tls_key_file;
    std::string tls_client_ca_file;
    // Connections served at once; more wait for a thread. Default: 16.
    int threads = 16;
    // Largest request body, bytes (413 above). Default: 64 MiB.
    int64_t max_body_bytes = int64_t{64} << 20;
  };

  // UNAVAILABLE naming the address when it cannot be bound or the TLS files
  // cannot be used; INVALID_ARGUMENT for bad options.
  static StatusOr<std::unique_ptr<HttpGateway>> Start(const Options& options, ExplainPipeline* pipeline,
                                                      ModelRegistry* registry, CallAuthenticator authenticator,
                                                      ServerMetrics* metrics);
  // Stops serving; waits for the requests being served.
  ~HttpGateway();
  HttpGateway(const HttpGateway&) = delete;
  HttpGateway& operator=(const HttpGateway&) = delete;

  // The port actually bound.
  int port() const { return port_; }
  bool tls() const { return !options_.tls_cert_file.empty(); }

  // From now on, every request but the liveness probe gets 503
  // (UNAVAILABLE), and readiness says not ready.
  void StartDraining() { draining_ = true; }

  // -- implementation details follow ---------------------------------------
  struct Response;
  struct Request;

 private:
  HttpGateway(const Options& options, ExplainPipeline* pipeline, ModelRegistry* registry,
              CallAuthenticator authenticator, ServerMetrics* metrics);

  Response Serve(const Request& request);
  Response ServeExplain(const Request& request);
  Response ServeKserve(const Request& request, const std::string& model, bool explain);
  Response ServeModel(const std::string& model);
  Response ServeModels();
  // Not draining and every model's device usable (ModelRegistry::healthy).
  bool Ready() const;

  const Options options_;
  ExplainPipeline* const pipeline_;
  ModelRegistry* const registry_;
  const CallAuthenticator authenticator_;
  ServerMetrics* const metrics_;
  std::atomic<bool> draining_{false};
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  int port_ = 0;
};

}  // namespace camserve
