// ModelRunner with a fake engine (no LibTorch): batching by method, layer and
// shape; per-job checks before queueing; results routed to the right job;
// fault isolation (split and retry, exceptions, out of memory, a lost
// device); the service-time estimate and dropping jobs that would miss their
// deadline.
#include "core/serving/model_runner.h"

#include <catch2/catch.hpp>

#include <new>
#include <stdexcept>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "tests/core/batching/fake_clock.h"
#include "tests/core/serving/fake_backend.h"
#include "tests/core/serving/indexed_results.h"

namespace camserve {
namespace {

ExplainJob Job(float marker, std::optional<int> target = std::nullopt, int side = 4) {
  ExplainJob job;
  job.input.shape = {3, side, side};
  job.input.data.assign(static_cast<size_t>(3 * side * side), marker);
  job.target_class = target;
  return job;
}

// Collects what `done` callbacks deliver.
struct Replies : IndexedResults<std::pair<Status, ExplainOutcome>> {
  using Reply = std::pair<Status, ExplainOutcome>;
  ExplainDone Callback(int index) {
    return [this, index](StatusOr<ExplainOutcome> outcome) {
      Store(index, {outcome.status(), outcome.ok() ? *outcome : ExplainOutcome()});
    };
  }
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
  f.runner->Submit(Job(1), replies.Callback(0));
  const std::vector<Replies::Reply> all = replies.WaitFor(1);
  REQUIRE(all[0].first.ok());
  const StageTimings& timings = all[0].second.timings;
  CHECK_FALSE(timings.enabled());
  for (int s = 0; s < kStageCount; ++s) CHECK_FALSE(timings.Has(static_cast<Stage>(s)));
  CHECK_FALSE(f.backend->batches()[0].profile_stages);
}

TEST_CASE("an engine error fails a lone job with the engine's status") {
  Fixture f;
  Replies replies;
  f.backend->FailWith(InternalError("model fault: broken"));
  f.runner->Submit(Job(1), replies.Callback(0));
  const std::vector<Replies::Reply> all = replies.WaitFor(1);
  CHECK(all[0].first.code() == StatusCode::kInternal);
  CHECK(all[0].first.message() == "model fault: broken");
  CHECK(f.runner->healthy());
}

// Fills the queue behind a held batch so the next batch holds all of `jobs`.
std::vector<Replies::Reply> RunAsOneBatch(Fixture& f, std::vector<ExplainJob> jobs) {
  Replies replies;
  f.backend->Hold();
  const size_t seen = f.backend->batches().size();
  f.runner->Submit(Job(0), replies.Callback(0));
  while (f.backend->batches().size() == seen) std::this_thread::yield();
  for (size_t i = 0; i < jobs.size(); ++i) f.runner->Submit(std::move(jobs[i]), replies.Callback(i + 1));
  f.backend->Release();
  return replies.WaitFor(static_cast<int>(jobs.size()) + 1);
}

TEST_CASE("a poisoned job among batchmates fails alone; each batchmate gets its own answer") {
  Fixture f;
  std::vector<ExplainJob> jobs;
  for (float marker : {1.f, 2.f, FakeBackend::kPoisonValue, 4.f, 5.f}) jobs.push_back(Job(marker));
  const std::vector<Replies::Reply> all = RunAsOneBatch(f, std::move(jobs));
  for (int i : {1, 2, 4, 5}) {
    INFO("job " << i);
    REQUIRE(all[i].first.ok());
    CHECK(all[i].second.result.heatmap.values[0] == static_cast<float>(i));
  }
  CHECK(all[3].first.code() == StatusCode::kInternal);
  CHECK(all[3].first.message() == "model fault: the model raised on 666");
  // 1 (the held job), 5 (fails), its halves [1, 2] (ok) and [666, 4, 5]
  // (fails), whose halves are [666] (fails alone) and [4, 5] (ok).
  CHECK(f.backend->batch_sizes() == std::vector<size_t>{1, 5, 2, 3, 1, 2});
  CHECK(all[1].second.batch_size == 2);
  CHECK(all[4].second.batch_size == 2);

  // The worker lives on: the next batch is served.
  Replies after;
  f.runner->Submit(Job(9), after.Callback(0));
  CHECK(after.WaitFor(1)[0].first.ok());
}

TEST_CASE("exceptions become statuses: a throw is INTERNAL, bad_alloc RESOURCE_EXHAUSTED; the worker lives on") {
  Fixture f;
  std::vector<ExplainJob> jobs;
  for (float marker : {1.f, FakeBackend::kThrowValue, FakeBackend::kOutOfMemoryValue, 4.f}) jobs.push_back(Job(marker));
  const std::vector<Replies::Reply> all = RunAsOneBatch(f, std::move(jobs));
  CHECK(all[1].first.ok());
  CHECK(all[2].first.code() == StatusCode::kInternal);
  CHECK(all[2].first.message() == "the model failed: the model threw on 777");
  CHECK(all[3].first.code() == StatusCode::kResourceExhausted);
  CHECK_THAT(all[3].first.message(), Catch::Contains("out of memory"));
  CHECK(all[4].first.ok());
  CHECK(all[4].second.result.heatmap.values[0] == 4.f);
  Replies after;
  f.runner->Submit(Job(9), after.Callback(0));
  CHECK(after.WaitFor(1)[0].first.ok());
}

TEST_CASE("a lost device fails its batch, turns the runner unhealthy once and refuses later jobs") {
  int lost_reports = 0;
  ModelRunner::Options runner_options;
  runner_options.on_device_lost = [&lost_reports](const Status&) { ++lost_reports; };  // the one worker
  Fixture f({}, runner_options);
  f.backend->FailWith(UnavailableError("the device failed: CUDA error: an illegal memory access"));
  std::vector<ExplainJob> jobs;
  for (float marker : {1.f, 2.f, 3.f}) jobs.push_back(Job(marker));
  const std::vector<Replies::Reply> all = RunAsOneBatch(f, std::move(jobs));
  for (int i = 0; i < 4; ++i) CHECK(all[i].first.code() == StatusCode::kUnavailable);
  CHECK_FALSE(f.runner->healthy());
  CHECK(lost_reports == 1);
  // Not split: a lost device fails everything.
  CHECK(f.backend->batch_sizes() == std::vector<size_t>{1, 3});
  Replies later;
  f.runner->Submit(Job(1), later.Callback(0));
  const std::vector<Replies::Reply> refused = later.WaitFor(1);
  CHECK(refused[0].first.code() == StatusCode::kUnavailable);
  CHECK_THAT(refused[0].first.message(), Catch::Contains("its device was lost"));
  CHECK(f.backend->batch_sizes().size() == 2);
}

TEST_CASE("the service time is measured per job; a job that would finish after its deadline is dropped uncomputed") {
  Fixture f;
  f.backend->TakeTime(f.clock.get(), 10'000);   // 10 ms per job
  CHECK(f.runner->EstimatedWaitMicros() == 0);  // nothing measured yet
  std::vector<ExplainJob> jobs;
  for (float marker : {1.f, 2.f}) jobs.push_back(Job(marker));
  const std::vector<Replies::Reply> first = RunAsOneBatch(f, std::move(jobs));
  REQUIRE(first[2].first.ok());
  CHECK(f.runner->ServiceMicrosPerJob() == 10'000);
  // Nothing queued or running: this job alone.
  CHECK(f.runner->EstimatedWaitMicros() == 10'000);

  // The held job ends at now + 10 ms; then a batch of three, estimated at
  // 30 ms, would end at now + 40 ms: the job due at now + 20 ms is dropped,
  // the one due at now + 60 ms runs.
  std::vector<ExplainJob> next;
  for (float marker : {3.f, 4.f, 5.f}) next.push_back(Job(marker));
  const int64_t now = f.clock->NowMicros();
  next[1].deadline_us = now + 20'000;
  next[2].deadline_us = now + 60'000;
  const std::vector<Replies::Reply> all = RunAsOneBatch(f, std::move(next));
  CHECK(all[1].first.ok());
  CHECK(all[2].first.code() == StatusCode::kDeadlineExceeded);
  CHECK_THAT(all[2].first.message(), Catch::Contains("dropped before computing"));
  CHECK(all[3].first.ok());
  CHECK(all[3].second.batch_size == 2);
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
