// The profiler: per-request stage timings, measured by scoped timers.
//
// Every stage of a request (decode, preprocess, queue wait, forward,
// backward, CAM, perturbation runs, quality evaluation, encode, cache get,
// cache put, total) is timed once, by a
// StageTimer around the code that does it, into a StageTimings value that
// travels with the request: the engine fills forward/backward/cam, the model
// runner preprocess/queue, the RPC layer the rest. The same values fill the
// response's `timings` and the Prometheus stage histograms (core/metrics).
//
// Switching off: a StageTimings made with enabled = false ignores every
// record and its timers never read the clock, so a disabled profiler costs a
// branch per stage; the engine then also skips the device synchronisations
// it makes only to time forward and backward apart on a GPU. The cost when
// enabled is measured in docs/benchmarks.md ("Profiler").
//
// Thread-safety: a StageTimings is a plain value; one thread writes it at a
// time. StageTimer is used on one thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace camserve {

enum class Stage {
  kDecode,      // JPEG/PNG decode, or the check of a raw tensor (RPC thread)
  kPreprocess,  // resize and normalise (batch worker)
  kQueue,       // from queueing until the batch starts
  kForward,     // the batch's forward pass
  kBackward,    // the batch's backward pass, to the target layer
  kCam,         // CAM math, upsampling, top-k and the copy to the host
  kPerturb,     // a perturbation method's runs of the model or its head
  kEvaluate,    // the quality scores' forwards (ExplainItem::evaluate)
  kEncode,      // the heatmap into the response's encoding
  kCacheGet,    // cache lookup: key hash, read, checksum, parse
  kCachePut,    // storing a computed answer
  kTotal,       // arrival to answer, on the server
};
inline constexpr int kStageCount = 12;

// Lower-case name, as in metric labels: "decode", ..., "perturb", "evaluate",
// "cache_get", "total".
std::string_view StageName(Stage stage);

// Microseconds per stage of one request; a stage that did not run (or was
// not timed) is absent.
class StageTimings {
 public:
  StageTimings() : StageTimings(true) {}
  explicit StageTimings(bool enabled) : enabled_(enabled) { micros_.fill(kAbsent); }

  bool enabled() const { return enabled_; }
  // Ignored when disabled.
  void Set(Stage stage, int64_t micros) {
    if (enabled_) micros_[Index(stage)] = micros;
  }
  bool Has(Stage stage) const { return micros_[Index(stage)] != kAbsent; }
  // 0 when absent.
  int64_t Micros(Stage stage) const { return Has(stage) ? micros_[Index(stage)] : 0; }
  // Copies the stages `other` has.
  void MergeFrom(const StageTimings& other);

 private:
  static constexpr int64_t kAbsent = -1;
  static size_t Index(Stage stage) { return static_cast<size_t>(stage); }

  bool enabled_;
  std::array<int64_t, kStageCount> micros_;
};

// Times one stage from construction until Stop() or destruction, into
// `timings` (not owned; must outlive the timer). Reads the clock only when
// `timings` is enabled.
class StageTimer {
 public:
  StageTimer(StageTimings* timings, Stage stage) : timings_(timings->enabled() ? timings : nullptr), stage_(stage) {
    if (timings_ != nullptr) start_ = std::chrono::steady_clock::now();
  }
  ~StageTimer() { Stop(); }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

  // Records the time so far; later calls do nothing.
  void Stop();

 private:
  StageTimings* timings_;  // null: disabled or stopped
  Stage stage_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace camserve
