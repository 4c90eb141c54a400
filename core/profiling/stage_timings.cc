#include "core/profiling/stage_timings.h"

namespace camserve {

std::string_view StageName(Stage stage) {
  switch (stage) {
    case Stage::kDecode: return "decode";
    case Stage::kPreprocess: return "preprocess";
    case Stage::kQueue: return "queue";
    case Stage::kForward: return "forward";
    case Stage::kBackward: return "backward";
    case Stage::kCam: return "cam";
    case Stage::kPerturb: return "perturb";
    case Stage::kEvaluate: return "evaluate";
    case Stage::kEncode: return "encode";
    case Stage::kCacheGet: return "cache_get";
    case Stage::kCachePut: return "cache_put";
    case Stage::kTotal: return "total";
  }
  return "unknown";
}

void StageTimings::MergeFrom(const StageTimings& other) {
  for (int i = 0; i < kStageCount; ++i) {
    const Stage stage = static_cast<Stage>(i);
    if (other.Has(stage)) Set(stage, other.Micros(stage));
  }
}

void StageTimer::Stop() {
  if (timings_ == nullptr) return;
  timings_->Set(
      stage_, std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start_).count());
  timings_ = nullptr;
}

}  // namespace camserve
