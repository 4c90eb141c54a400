// ExplainTransport: how camserve-bench's load generator sends one Explain
// request without knowing about gRPC, so that the generator can be tested
// with a fake. CallOutcome is what came back, in plain types.
//
// Thread-safety: implementations must accept Send from several threads at
// once, and may call `done` on any thread, including inline before Send
// returns; callers therefore hold no lock of their own while calling Send.
// Ownership: Send copies what it needs from `image`; `done` is moved in and
// called exactly once.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "core/util/status.h"

namespace camserve {

// The server-side stages of camserve.v1.StageTimings, in field order.
enum ServerStage {
  kQueue,
  kPreprocess,
  kForward,
  kBackward,
  kCam,
  kEncode,
  kServerTotal,
  kCacheGet,
  kCachePut,
  kDecode
};
constexpr int kServerStageCount = 10;

// "queue", "preprocess", "forward", "backward", "cam", "encode", "total",
// "cache_get", "cache_put", "decode".
const char* ServerStageName(int stage);

// The name of a gRPC status code, "UNAVAILABLE"; also for the codes that
// camserve::StatusCode does not list (PERMISSION_DENIED, ABORTED,
// UNAUTHENTICATED), which a proxy in between may still return.
std::string StatusCodeLabel(StatusCode code);

struct CallOutcome {
  StatusCode code = StatusCode::kOk;
  // The server's (or gRPC's) message; empty when ok.
  std::string error_message;
  // The response's timings, microseconds, indexed by ServerStage; zero for
  // errors.
  std::array<int64_t, kServerStageCount> stage_us{};
  // How many requests shared the forward pass; 0 for errors.
  int batch_size = 0;
  bool cache_hit = false;
};

class ExplainTransport {
 public:
  using DoneCallback = std::function<void(CallOutcome)>;

  virtual ~ExplainTransport() = default;

  // Starts one request with `image` (JPEG or PNG bytes) as its input and
  // returns without waiting for the answer.
  virtual void Send(const std::string& image, DoneCallback done) = 0;
};

// Sends one request and blocks until it is answered.
CallOutcome SendAndWait(ExplainTransport* transport, const std::string& image);

}  // namespace camserve
