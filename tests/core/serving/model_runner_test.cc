// ModelRunner with a fake engine (no LibTorch): batching by method, layer and
// shape; per-job checks before queueing; results routed to the right job.
#include "core/serving/model_runner.h"

#include <catch2/catch.hpp>

#include <thread>

#include "absl/synchronization/mutex.h"
#include "tests/core/batching/fake_clock.h"

namespace camserve {
namespace {

ModelSidecar FakeSidecar() {
  ModelSidecar sidecar;
  sidecar.name = "fake";
  sidecar.input_height_px = 4;
  sidecar.input_width_px = 4;
  sidecar.default_layer = "layer4";
  return sidecar;
}

// Heatmap values = the input's first value; target = the requested class or
// 0. Can hold batches until released, to let a queue build up.
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

  StatusOr<BatchResult> Explain(const ExplainBatchSpec& spec, const std::vector<ExplainItem>& items) override {
    absl::MutexLock lock(&mu_);
    batches_.push_back({spec.method, spec.target_layer, items.size(), spec.profile_stages});
    mu_.Await(absl::Condition(&released_));
    if (!fail_with_.ok()) return fail_with_;
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
  struct SeenBatch {
    CamMethodKind method;
    std::string layer;
    size_t size;
    bool profile_stages;
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
};

ExplainJob Job(float marker, std::optional<int> target = std::nullopt, int side = 4) {
  ExplainJob job;
  job.input.shape = {3, side, side};
  job.input.data.assign(static_cast<size_t>(3 * side * side), marker);
  job.target_class = target;
  return job;
}

// Collects what `done` callbacks deliver.
class Replies {
 public:
  using Reply = std::pair<Status, ExplainOutcome>;

  ExplainDone Callback(int index) {
    return [this, index](StatusOr<ExplainOutcome> outcome) {
      absl::MutexLock lock(&mu_);
      if (all_.size() <= static_cast<size_t>(index)) all_.resize(index + 1);
      all_[index] = {outcome.status(), outcome.ok() ? *outcome : ExplainOutcome()};
      ++count_;
    };
  }
  // Waits until `n` replies arrived; returns every reply so far, by index.
  std::vector<Reply> WaitFor(int n) {
    absl::MutexLock lock(&mu_);
    const auto arrived = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ >= n; };
    mu_.Await(absl::Condition(&arrived));
    return all_;
  }

 private:
  absl::Mutex mu_;
  std::vector<Reply> all_ ABSL_GUARDED_BY(mu_);
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

struct Fixture {
  explicit Fixture(DynamicBatcher::Options options = {}, ModelRunner::Options runner_options = {}) {
    auto owned = std::make_unique<FakeBackend>();
    backend = owned.get();
    options.max_queue_delay_us = 0;
    runner_options.batcher = options;
    runner_options.version = "v1";
    clock = std::make_shared<FakeClock>();
    StatusOr<std::unique_ptr<ModelRunner>> created = ModelRunner::Create(std::move(owned), runner_options, clock);
    REQUIRE(created.ok());
    runner = std::move(created).value();
  }
  FakeBackend* backend;
  std::shared_ptr<FakeClock> clock;
  std::unique_ptr<ModelRunner> runner;
};

TEST_CASE("jobs with different targets share a batch and get their own results") {
  Fixture f;
  Replies replies;
  f.backend->Hold();
  f.runner->Submit(Job(0.5f), replies.Callback(0));  // occupies the worker
  while (f.backend->batches().empty()) std::this_thread::yield();
  for (int i = 1; i <= 4; ++i) f.runner->Submit(Job(static_cast<float>(i), i), replies.Callback(i));
  f.backend->Release();
  const std::vector<Replies::Reply> all = replies.WaitFor(5);
  const auto batches = f.backend->batches();
  REQUIRE(batches.size() == 2);
  CHECK(batches[0].size == 1);
  CHECK(batches[1].size == 4);
  for (int i = 1; i <= 4; ++i) {
    REQUIRE(all[i].first.ok());
    CHECK(all[i].second.result.heatmap.values[0] == static_cast<float>(i));
    CHECK(all[i].second.result.target.class_index == i);
    CHECK(all[i].second.batch_size == 4);
    CHECK(all[i].second.timings.Micros(Stage::kForward) == 7);
  }
}

TEST_CASE("method, layer and input shape split batches; an explicit default layer does not") {
  Fixture f;
  Replies replies;
  f.backend->Hold();
  f.runner->Submit(Job(0), replies.Callback(0));
  while (f.backend->batches().empty()) std::this_thread::yield();
  ExplainJob eigen = Job(1);
  eigen.method = CamMethodKind::kEigenCam;
  ExplainJob layer3 = Job(2);
  layer3.target_layer = "layer3";
  ExplainJob explicit_default = Job(3);
  explicit_default.target_layer = "layer4";
  f.runner->Submit(std::move(eigen), replies.Callback(1));
  f.runner->Submit(std::move(layer3), replies.Callback(2));
  f.runner->Submit(Job(4, std::nullopt, 8), replies.Callback(3));
  f.runner->Submit(Job(5), replies.Callback(4));
  f.runner->Submit(std::move(explicit_default), replies.Callback(5));
  f.backend->Release();
  const std::vector<Replies::Reply> all = replies.WaitFor(6);
  std::vector<size_t> sizes;
  for (const auto& batch : f.backend->batches()) sizes.push_back(batch.size);
  std::sort(sizes.begin(), sizes.end());
  CHECK(sizes == std::vector<size_t>{1, 1, 1, 1, 2});
  for (int i = 0; i < 6; ++i) CHECK(all[i].first.ok());
}

TEST_CASE("bad layers and classes are refused per job, before they can fail a batch") {
  Fixture f;
  Replies replies;
  ExplainJob bad_layer = Job(1);
  bad_layer.target_layer = "layer9";
  f.runner->Submit(std::move(bad_layer), replies.Callback(0));
  f.runner->Submit(Job(2, 10), replies.Callback(1));
  f.runner->Submit(Job(3, -1), replies.Callback(2));
  f.runner->Submit(Job(4, 9), replies.Callback(3));
  const std::vector<Replies::Reply> all = replies.WaitFor(4);
  CHECK(all[0].first.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(all[0].first.message(), Catch::Contains("usable layers: layer3, layer4"));
  CHECK(all[1].first.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(all[1].first.message(), Catch::Contains("target_class 10 is out of range"));
  CHECK(all[2].first.code() == StatusCode::kInvalidArgument);
  CHECK(all[3].first.ok());
  CHECK(f.backend->batches().size() == 1);
}

TEST_CASE("decoded images are preprocessed on the worker; a bad one fails alone") {
  Fixture f;
  Replies replies;
  f.backend->Hold();
  f.runner->Submit(Job(0), replies.Callback(0));
  while (f.backend->batches().empty()) std::this_thread::yield();
  // A 4x4 white image (the fake model's input size) and an inconsistent one.
  ExplainJob white;
  white.image = std::make_shared<const DecodedImage>(DecodedImage{4, 4, std::vector<uint8_t>(4 * 4 * 3, 255)});
  ExplainJob broken;
  broken.image = std::make_shared<const DecodedImage>(DecodedImage{4, 4, {}});
  f.runner->Submit(std::move(white), replies.Callback(1));
  f.runner->Submit(std::move(broken), replies.Callback(2));
  f.runner->Submit(Job(0.25f), replies.Callback(3));  // a tensor of the same shape joins the batch
  f.backend->Release();
  const std::vector<Replies::Reply> all = replies.WaitFor(4);
  REQUIRE(all[1].first.ok());
  // (1 - mean[0]) / std[0] with the ImageNet defaults.
  CHECK(all[1].second.result.heatmap.values[0] == Approx((1.f - 0.485f) / 0.229f));
  CHECK(all[1].second.batch_size == 2);
  CHECK(all[2].first.code() == StatusCode::kInvalidArgument);
  CHECK(all[3].second.result.heatmap.values[0] == 0.25f);
  CHECK(all[3].second.batch_size == 2);
  CHECK(all[1].second.timings.Has(Stage::kPreprocess));
  CHECK_FALSE(all[3].second.timings.Has(Stage::kPreprocess));
}

TEST_CASE("stage timings: queue by the runner's clock, the engine's stages merged; batch sizes reported") {
  std::vector<int> batch_sizes;
  ModelRunner::Options runner_options;
  runner_options.on_batch = [&batch_sizes](int size) { batch_sizes.push_back(size); };  // the one worker
  Fixture f({}, runner_options);
  Replies replies;
  f.backend->Hold();
  f.runner->Submit(Job(0), replies.Callback(0));
  while (f.backend->batches().empty()) std::this_thread::yield();
  f.runner->Submit(Job(1), replies.Callback(1));
  f.runner->Submit(Job(2), replies.Callback(2));
  f.clock->Advance(2500);
  f.backend->Release();
  const std::vector<Replies::Reply> all = replies.WaitFor(3);
  CHECK(batch_sizes == std::vector<int>{1, 2});
  for (int i : {1, 2}) {
    const StageTimings& timings = all[i].second.timings;
    CHECK(timings.Micros(Stage::kQueue) == 2500);
    CHECK(timings.Micros(Stage::kForward) == 7);
    CHECK_FALSE(timings.Has(Stage::kTotal));
  }
  CHECK(f.backend->batches()[1].profile_stages);
}

TEST_CASE("profile_stages off: no stage is timed, and the engine is told so") {
  ModelRunner::Options runner_options;
  runner_options.profile_stages = false;
  Fixture f({}, runner_options);
  Replies replies;
  ExplainJob image_job;
  image_job.image = std::make_shared<const DecodedImage>(DecodedImage{4, 4, std::vector<uint8_t>(4 * 4 * 3, 255)});
  f.runner->Submit(std::move(image_job), replies.Callback(0));
  const std::vector<Replies::Reply> all = replies.WaitFor(1);
  REQUIRE(all[0].first.ok());
  const StageTimings& timings = all[0].second.timings;
  CHECK_FALSE(timings.enabled());
  for (int s = 0; s < kStageCount; ++s) CHECK_FALSE(timings.Has(static_cast<Stage>(s)));
  CHECK_FALSE(f.backend->batches()[0].profile_stages);
}

TEST_CASE("an engine error reaches every job of its batch") {
  Fixture f;
  Replies replies;
  f.backend->FailWith(InternalError("device lost"));
  f.runner->Submit(Job(1), replies.Callback(0));
  const std::vector<Replies::Reply> all = replies.WaitFor(1);
  CHECK(all[0].first.code() == StatusCode::kInternal);
  CHECK(all[0].first.message() == "device lost");
}

TEST_CASE("a full queue and cancelled jobs end early without reaching the engine") {
  DynamicBatcher::Options options;
  options.max_queue_size = 1;
  Fixture f(options);
  Replies replies;
  f.backend->Hold();
  f.runner->Submit(Job(0), replies.Callback(0));
  while (f.backend->batches().empty()) std::this_thread::yield();
  ExplainJob cancelled = Job(1);
  cancelled.is_cancelled = [] { return true; };
  f.runner->Submit(std::move(cancelled), replies.Callback(1));
  f.runner->Submit(Job(2), replies.Callback(2));
  (void)replies.WaitFor(1);
  f.backend->Release();
  const std::vector<Replies::Reply> all = replies.WaitFor(3);
  CHECK(all[1].first.code() == StatusCode::kCancelled);
  CHECK(all[2].first.code() == StatusCode::kUnavailable);
  CHECK_THAT(all[2].first.message(), Catch::Contains("exceeds maximum queue size (1)"));
  CHECK(f.backend->batches().size() == 1);
}

}  // namespace
}  // namespace camserve
