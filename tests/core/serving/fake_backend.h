// FakeBackend: an ExplainBackend without LibTorch for the serving tests
// (ModelRunner, ExplainPipeline).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/engine/explain_backend.h"
#include "tests/core/batching/fake_clock.h"

namespace camserve {

inline ModelSidecar FakeSidecar() {
  ModelSidecar sidecar;
  sidecar.name = "fake";
  sidecar.input_height_px = 4;
  sidecar.input_width_px = 4;
  sidecar.default_layer = "layer4";
  return sidecar;
}

// Heatmap values = the input's first value; target = the requested class or
// 0. Can hold batches until released, to let a queue build up; records what
// it was given.
class FakeBackend : public ExplainBackend {
 public:
  FakeBackend() : preprocessor_(FakeSidecar(), DecodeOptions{}, TensorLimits{}) {
    info_.name = "fake";
    info_.num_classes = 10;
    info_.default_layer = "layer4";
    info_.input_height_px = 4;
    info_.input_width_px = 4;
  }
  const ModelInfo& info() const override { return info_; }
  const Preprocessor& preprocessor() const override { return preprocessor_; }
  std::vector<std::string> UsableLayers() override { return {"layer3", "layer4"}; }

  // A job whose input starts with one of these values makes every batch it
  // is in fail: kPoisonValue with INTERNAL, kThrowValue by throwing
  // std::runtime_error, kOutOfMemoryValue by throwing std::bad_alloc.
  static constexpr float kPoisonValue = 666.f;
  static constexpr float kThrowValue = 777.f;
  static constexpr float kOutOfMemoryValue = 888.f;

  StatusOr<BatchResult> Explain(const ExplainBatchSpec& spec, const std::vector<ExplainItem>& items) override {
    absl::MutexLock lock(&mu_);
    batches_.push_back({spec.method, spec.target_layer, items.size(), spec.profile_stages,
                        items.empty() ? std::vector<int64_t>{} : items.front().input->shape,
                        std::this_thread::get_id()});
    mu_.Await(absl::Condition(&released_));
    if (clock_ != nullptr) clock_->Advance(micros_per_item_ * static_cast<int64_t>(items.size()));
    if (!fail_with_.ok()) return fail_with_;
    for (const ExplainItem& item : items) {
      const float marker = item.input->data[0];
      if (marker == kPoisonValue) return InternalError("model fault: the model raised on 666");
      if (marker == kThrowValue) throw std::runtime_error("the model threw on 777");
      if (marker == kOutOfMemoryValue) throw std::bad_alloc();
    }
    BatchResult result;
    result.timings = StageTimings(spec.profile_stages);
    for (const ExplainItem& item : items) {
      ExplainResult one;
      one.heatmap.width_px = 1;
      one.heatmap.height_px = 1;
      one.heatmap.values = {item.input->data[0]};
      one.target.class_index = item.target_class.value_or(0);
      result.items.push_back(one);
    }
    result.timings.Set(Stage::kForward, 7);
    return result;
  }

  void Hold() {
    absl::MutexLock lock(&mu_);
    released_ = false;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }
  void FailWith(Status status) {
    absl::MutexLock lock(&mu_);
    fail_with_ = std::move(status);
  }
  // Each batch moves `clock` by `micros_per_item` per item, as if computing.
  void TakeTime(FakeClock* clock, int64_t micros_per_item) {
    absl::MutexLock lock(&mu_);
    clock_ = clock;
    micros_per_item_ = micros_per_item;
  }
  // Sizes of the batches seen so far.
  std::vector<size_t> batch_sizes() {
    absl::MutexLock lock(&mu_);
    std::vector<size_t> sizes;
    for (const SeenBatch& batch : batches_) sizes.push_back(batch.size);
    return sizes;
  }
  struct SeenBatch {
    CamMethodKind method;
    std::string layer;
    size_t size;
    bool profile_stages;
    // The first item's input shape; the thread that ran the batch.
    std::vector<int64_t> input_shape;
    std::thread::id thread;
  };
  std::vector<SeenBatch> batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  ModelInfo info_;
  Preprocessor preprocessor_;
  absl::Mutex mu_;
  bool released_ ABSL_GUARDED_BY(mu_) = true;
  Status fail_with_ ABSL_GUARDED_BY(mu_);
  std::vector<SeenBatch> batches_ ABSL_GUARDED_BY(mu_);
  FakeClock* clock_ ABSL_GUARDED_BY(mu_) = nullptr;
  int64_t micros_per_item_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace camserve
