// DynamicBatcher with a fake clock and a fake processor. Decisions depend on
// the fake clock only; real time is used just to wait for the workers to act.
#include "core/batching/dynamic_batcher.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <stdexcept>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/util/thread_name.h"
#include "tests/core/batching/fake_clock.h"

namespace camserve {
namespace {

using Ids = std::vector<int>;

// What the batcher did: batches given to the processor, tasks ended early.
struct Recorder {
  absl::Mutex mu;
  std::vector<Ids> batches ABSL_GUARDED_BY(mu);
  std::map<int, Status> early ABSL_GUARDED_BY(mu);
  // One per batch; "mixed" if not uniform.
  std::vector<std::string> groups ABSL_GUARDED_BY(mu);

  size_t BatchCount() {
    absl::MutexLock lock(&mu);
    return batches.size();
  }
  size_t EarlyCount() {
    absl::MutexLock lock(&mu);
    return early.size();
  }
  // The status task `id` was ended early with.
  StatusCode EarlyCode(int id) {
    absl::MutexLock lock(&mu);
    return early.at(id).code();
  }
};

struct FakeTask : BatchTask {
  FakeTask(int id, std::shared_ptr<Recorder> recorder, std::string group = "g", int priority_level = 0)
      : id(id), recorder(std::move(recorder)) {
    group_key = std::move(group);
    priority = priority_level;
  }
  void FinishEarly(const Status& status) override {
    absl::MutexLock lock(&recorder->mu);
    recorder->early.emplace(id, status);
  }
  bool IsCancelled() const override { return cancelled->load(); }

  int id;
  std::shared_ptr<Recorder> recorder;
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
};

// Blocks the processor until opened.
struct Gate {
  absl::Notification opened;
  void Open() { opened.Notify(); }
  void Pass() { opened.WaitForNotification(); }
};

// Waits (real time, bounded) until `predicate` holds.
template <typename Predicate>
bool Eventually(Predicate predicate) {
  for (int i = 0; i < 5000; ++i) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return predicate();
}

// Gives the workers real time to act on the current fake time.
void Settle() { std::this_thread::sleep_for(std::chrono::milliseconds(30)); }

struct Fixture {
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::shared_ptr<Recorder> recorder = std::make_shared<Recorder>();
  std::shared_ptr<Gate> gate;  // when set, the processor waits on it
  std::unique_ptr<DynamicBatcher> batcher;

  void Start(const DynamicBatcher::Options& options) {
    auto recorder_ref = recorder;
    auto gate_ref = gate;
    auto created = DynamicBatcher::Create(
        options,
        [recorder_ref, gate_ref](DynamicBatcher::Batch batch) {
          if (gate_ref) gate_ref->Pass();
          Ids ids;
          std::string group = batch.front()->group_key;
          for (const auto& task : batch) {
            ids.push_back(static_cast<FakeTask&>(*task).id);
            if (task->group_key != group) group = "mixed";
          }
          absl::MutexLock lock(&recorder_ref->mu);
          recorder_ref->batches.push_back(ids);
          recorder_ref->groups.push_back(group);
        },
        clock);
    REQUIRE(created.ok());
    batcher = std::move(created).value();
  }

  Status Submit(int id, std::string group = "g", int priority = 0,
                int64_t deadline_us = std::numeric_limits<int64_t>::max(),
                std::shared_ptr<std::atomic<bool>>* cancel_flag = nullptr) {
    auto task = std::make_unique<FakeTask>(id, recorder, group, priority);
    task->deadline_us = deadline_us;
    if (cancel_flag) *cancel_flag = task->cancelled;
    std::unique_ptr<BatchTask> base = std::move(task);
    return batcher->Submit(base);
  }

  std::vector<Ids> Batches() {
    absl::MutexLock lock(&recorder->mu);
    return recorder->batches;
  }
};

DynamicBatcher::Options OptionsWith(int max_batch, int64_t delay_us) {
  DynamicBatcher::Options options;
  options.max_batch_size = max_batch;
  options.max_queue_delay_us = delay_us;
  return options;
}

TEST_CASE("a full batch goes at once; the rest waits for the delay") {
  Fixture f;
  f.Start(OptionsWith(4, 1'000'000));
  for (int id = 0; id < 9; ++id) REQUIRE(f.Submit(id).ok());
  REQUIRE(Eventually([&] { return f.recorder->BatchCount() == 2; }));
  Settle();
  CHECK(f.Batches() == std::vector<Ids>{{0, 1, 2, 3}, {4, 5, 6, 7}});
  CHECK(f.batcher->QueueDepth() == 1);
  f.clock->Advance(1'000'000);
  REQUIRE(Eventually([&] { return f.recorder->BatchCount() == 3; }));
  CHECK(f.Batches()[2] == Ids{8});
}

TEST_CASE("a partial batch goes when its oldest request has waited max_queue_delay_us") {
  Fixture f;
  f.Start(OptionsWith(8, 1000));
  REQUIRE(f.Submit(1).ok());
  f.clock->Advance(400);
  REQUIRE(f.Submit(2).ok());
  REQUIRE(f.Submit(3).ok());
  f.clock->Advance(599);
  Settle();
  CHECK(f.recorder->BatchCount() == 0);
  f.clock->Advance(1);  // 1000 us after the first request
  REQUIRE(Eventually([&] { return f.recorder->BatchCount() == 1; }));
  CHECK(f.Batches()[0] == Ids{1, 2, 3});
}

TEST_CASE("preferred batch sizes: the largest goes at once, at the delay the largest that fits") {
  Fixture f;
  auto options = OptionsWith(8, 1000);
  options.preferred_batch_sizes = {2, 4};
  f.Start(options);
  for (int id = 0; id < 3; ++id) REQUIRE(f.Submit(id).ok());
  Settle();
  CHECK(f.recorder->BatchCount() == 0);
  f.clock->Advance(1000);
  REQUIRE(Eventually([&] { return f.recorder->BatchCount() == 2; }));
  CHECK(f.Batches() == std::vector<Ids>{{0, 1}, {2}});
  for (int id = 10; id < 14; ++id) REQUIRE(f.Submit(id).ok());
  REQUIRE(Eventually([&] { return f.recorder->BatchCount() == 3; }));
  CHECK(f.Batches()[2] == Ids{10, 11, 12, 13});
}

TEST_CASE("a full queue answers UNAVAILABLE at once and hands the task back") {
  Fixture f;
  f.gate = std::make_shared<Gate>();
  auto options = OptionsWith(1, 0);
  options.max_queue_size = 2;
  f.Start(options);
  REQUIRE(f.Submit(0).ok());
  REQUIRE(Eventually([&] { return f.batcher->QueueDepth() == 0; }));  // 0 is in the (blocked) processor
  REQUIRE(f.Submit(1).ok());
  REQUIRE(f.Submit(2).ok());
  auto task = std::make_unique<FakeTask>(3, f.recorder);
  std::unique_ptr<BatchTask> rejected = std::move(task);
  Status status = f.batcher->Submit(rejected);
  CHECK(status.code() == StatusCode::kUnavailable);
  CHECK(status.message() == "exceeds maximum queue size (2)");
  REQUIRE(rejected != nullptr);
  CHECK(static_cast<FakeTask&>(*rejected).id == 3);
  f.gate->Open();
  REQUIRE(Eventually([&] { return f.recorder->BatchCount() == 3; }));
  CHECK(f.Batches() == std::vector<Ids>{{0}, {1}, {2}});
}

TEST_CASE("a request whose deadline passes in the queue is DEADLINE_EXCEEDED and never computed") {
  Fixture f;
  f.Start(OptionsWith(8, 1000));
  const int64_t start = f.clock->NowMicros();
  REQUIRE(f.Submit(1, "g", 0, start + 500).ok());
  REQUIRE(f.Submit(2).ok());
  f.clock->Advance(600);
  REQUIRE(Eventually([&] { return f.recorder->EarlyCount() == 1; }));
  CHECK(f.recorder->EarlyCode(1) == StatusCode::kDeadlineExceeded);
  CHECK(f.recorder->BatchCount() == 0);
  f.clock->Advance(400);
  REQUIRE(Eventually([&] { return f.recorder->BatchCount() == 1; }));
  CHECK(f.Batches()[0] == Ids{2});
}

TEST_CASE("a request cancelled while queued is CANCELLED and never computed") {
  Fixture f;
  f.Start(OptionsWith(8, 1000));
  std::shared_ptr<std::atomic<bool>> cancel;
  REQUIRE(f.Submit(1, "g", 0, std::numeric_limits<int64_t>::max(), &cancel).ok());
  REQUIRE(f.Submit(2).ok());
  cancel->store(true);
  REQUIRE(Eventually([&] { return f.recorder->EarlyCount() == 1; }));
  CHECK(f.recorder->EarlyCode(1) == StatusCode::kCancelled);
  f.clock->Advance(1000);
  REQUIRE(Eventually([&] { return f.recorder->BatchCount() == 1; }));
  CHECK(f.Batches()[0] == Ids{2});
}

TEST_CASE("a batch holds only requests of one group") {
  Fixture f;
  f.Start(OptionsWith(8, 1000));
  REQUIRE(f.Submit(1, "resnet50/gradcam/layer4/3x224x224").ok());
  REQUIRE(f.Submit(2, "resnet50/gradcam/layer4/3x224x224").ok());
  REQUIRE(f.Submit(3, "resnet50/layercam/layer4/3x224x224").ok());
  REQUIRE(f.Submit(4, "resnet50/gradcam/layer4/3x224x224").ok());
  f.clock->Advance(1000);
  REQUIRE(Eventually([&] { return f.recorder->BatchCount() == 2; }));
  CHECK(f.Batches() == std::vector<Ids>{{1, 2, 4}, {3}});
  absl::MutexLock lock(&f.recorder->mu);
  for (const std::string& group : f.recorder->groups) CHECK(group != "mixed");
}

TEST_CASE("the more urgent priority level is served first") {
  Fixture f;
  f.gate = std::make_shared<Gate>();
  f.Start(OptionsWith(1, 0));
  REQUIRE(f.Submit(0).ok());
  REQUIRE(Eventually([&] { return f.batcher->QueueDepth() == 0; }));
  REQUIRE(f.Submit(1, "g", /*priority=*/1).ok());
  REQUIRE(f.Submit(2, "g", /*priority=*/1).ok());
  REQUIRE(f.Submit(3, "g", /*priority=*/0).ok());
  f.gate->Open();
  REQUIRE(Eventually([&] { return f.recorder->BatchCount() == 4; }));
  CHECK(f.Batches() == std::vector<Ids>{{0}, {3}, {1}, {2}});
  std::unique_ptr<BatchTask> bad = std::make_unique<FakeTask>(9, f.recorder, "g", 2);
  CHECK(f.batcher->Submit(bad).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("shutdown drains the queue without waiting for the delay, then refuses work") {
  Fixture f;
  f.Start(OptionsWith(8, 1'000'000'000));
  for (int id = 0; id < 3; ++id) REQUIRE(f.Submit(id).ok());
  f.batcher->Shutdown();
  CHECK(f.Batches() == std::vector<Ids>{{0, 1, 2}});
  CHECK(f.Submit(9).code() == StatusCode::kUnavailable);
}

TEST_CASE("what the drain timeout leaves queued is finished UNAVAILABLE") {
  Fixture f;
  f.gate = std::make_shared<Gate>();
  f.Start(OptionsWith(1, 0));
  REQUIRE(f.Submit(0).ok());
  REQUIRE(Eventually([&] { return f.batcher->QueueDepth() == 0; }));
  REQUIRE(f.Submit(1).ok());
  REQUIRE(f.Submit(2).ok());
  std::thread shutdown([&] { f.batcher->Shutdown(/*drain_timeout_us=*/5000); });
  REQUIRE(Eventually([&] { return !f.batcher->IsAccepting(); }));
  f.clock->Advance(5000);
  f.gate->Open();
  shutdown.join();
  CHECK(f.Batches() == std::vector<Ids>{{0}});
  REQUIRE(f.recorder->EarlyCount() == 2);
  CHECK(f.recorder->EarlyCode(1) == StatusCode::kUnavailable);
  CHECK(f.recorder->EarlyCode(2) == StatusCode::kUnavailable);
}

TEST_CASE("several workers run batches of different groups concurrently") {
  Fixture f;
  f.gate = std::make_shared<Gate>();
  auto options = OptionsWith(2, 0);
  options.worker_count = 2;
  f.Start(options);
  REQUIRE(f.Submit(1, "a").ok());
  REQUIRE(f.Submit(2, "b").ok());
  REQUIRE(Eventually([&] { return f.batcher->QueueDepth() == 0; }));  // both taken while the gate is shut
  f.gate->Open();
  REQUIRE(Eventually([&] { return f.recorder->BatchCount() == 2; }));
}

TEST_CASE("batches one at a time stay on worker 0; worker 1 takes one only while worker 0 is busy") {
  auto threads = std::make_shared<std::vector<std::thread::id>>();
  auto names = std::make_shared<std::vector<std::string>>();
  auto threads_mu = std::make_shared<absl::Mutex>();
  auto gate = std::make_shared<Gate>();
  auto options = OptionsWith(1, 0);
  options.worker_count = 2;
  auto created = DynamicBatcher::Create(
      options,
      [threads, names, threads_mu, gate](DynamicBatcher::Batch batch) {
        {
          absl::MutexLock lock(threads_mu.get());
          threads->push_back(std::this_thread::get_id());
          names->push_back(CurrentThreadName());
        }
        if (static_cast<FakeTask&>(*batch.front()).id == 100) gate->Pass();
      },
      std::make_shared<FakeClock>());
  REQUIRE(created.ok());
  std::unique_ptr<DynamicBatcher> batcher = std::move(created).value();
  auto recorder = std::make_shared<Recorder>();
  const auto submit = [&](int id) {
    std::unique_ptr<BatchTask> task = std::make_unique<FakeTask>(id, recorder);
    REQUIRE(batcher->Submit(task).ok());
  };
  const auto seen = [&] {
    absl::MutexLock lock(threads_mu.get());
    return *threads;
  };
  for (int id = 0; id < 5; ++id) {
    submit(id);
    REQUIRE(Eventually([&] { return seen().size() == static_cast<size_t>(id + 1); }));
  }
  const std::vector<std::thread::id> alone = seen();
  for (const std::thread::id& thread : alone) CHECK(thread == alone.front());
  submit(100);  // holds worker 0
  REQUIRE(Eventually([&] { return seen().size() == 6; }));
  submit(6);  // worker 1 takes it while worker 0 is busy
  REQUIRE(Eventually([&] { return seen().size() == 7; }));
  CHECK(seen()[5] == alone.front());
  CHECK(seen()[6] != alone.front());
  gate->Open();
  // The workers are named for `top -H` and perf.
  absl::MutexLock lock(threads_mu.get());
  CHECK(names->front() == "batch-worker-0");
  CHECK(names->back() == "batch-worker-1");
}

TEST_CASE("a processor that throws does not kill its worker: the next batch runs") {
  auto processed = std::make_shared<std::atomic<int>>(0);
  auto created = DynamicBatcher::Create(
      OptionsWith(1, 0),
      [processed](DynamicBatcher::Batch batch) {
        if (static_cast<FakeTask&>(*batch.front()).id == 0) throw std::runtime_error("processor bug");
        ++*processed;
      },
      std::make_shared<FakeClock>());
  REQUIRE(created.ok());
  std::unique_ptr<DynamicBatcher> batcher = std::move(created).value();
  auto recorder = std::make_shared<Recorder>();
  for (int id : {0, 1, 2}) {
    std::unique_ptr<BatchTask> task = std::make_unique<FakeTask>(id, recorder);
    REQUIRE(batcher->Submit(task).ok());
  }
  REQUIRE(Eventually([&] { return processed->load() == 2; }));
  CHECK(batcher->IsAccepting());
}

TEST_CASE("options are validated with the field and its value") {
  struct Case {
    DynamicBatcher::Options options;
    const char* message;
  };
  auto with = [](auto change) {
    DynamicBatcher::Options options;
    change(options);
    return options;
  };
  for (const Case& c :
       {Case{with([](auto& o) { o.max_batch_size = 0; }), "max_batch_size must be >= 1; was 0"},
        Case{with([](auto& o) { o.max_queue_delay_us = -5; }), "max_queue_delay_us must be >= 0; was -5"},
        Case{with([](auto& o) { o.max_queue_size = 0; }), "max_queue_size must be >= 1; was 0"},
        Case{with([](auto& o) { o.priority_levels = 0; }), "priority_levels must be >= 1; was 0"},
        Case{with([](auto& o) { o.worker_count = 0; }), "worker_count must be >= 1; was 0"},
        Case{with([](auto& o) {
               o.preferred_batch_sizes = {4, 9};
             }),
             "preferred_batch_sizes entries must be in [1, max_batch_size]; was 9"}}) {
    auto batcher = DynamicBatcher::Create(
        c.options, [](DynamicBatcher::Batch) {}, std::make_shared<FakeClock>());
    REQUIRE_FALSE(batcher.ok());
    CHECK(batcher.status().code() == StatusCode::kInvalidArgument);
    CHECK(batcher.status().message() == c.message);
  }
}

}  // namespace
}  // namespace camserve
