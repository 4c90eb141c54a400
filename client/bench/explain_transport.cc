#include "client/bench/explain_transport.h"

#include <future>

namespace camserve {

const char* ServerStageName(int stage) {
  static constexpr const char* kNames[kServerStageCount] = {"queue",  "preprocess", "forward",   "backward",  "cam",
                                                            "encode", "total",      "cache_get", "cache_put", "decode"};
  return stage >= 0 && stage < kServerStageCount ? kNames[stage] : "unknown";
}

std::string StatusCodeLabel(StatusCode code) {
  switch (static_cast<int>(code)) {
    case 7: return "PERMISSION_DENIED";
    case 10: return "ABORTED";
    case 16: return "UNAUTHENTICATED";
    default: return StatusCodeName(code);
  }
}

CallOutcome SendAndWait(ExplainTransport* transport, const std::string& image) {
  std::promise<CallOutcome> answered;
  std::future<CallOutcome> outcome = answered.get_future();
  transport->Send(image, [&answered](CallOutcome result) { answered.set_value(std::move(result)); });
  return outcome.get();
}

}  // namespace camserve
