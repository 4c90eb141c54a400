#include "core/batching/dynamic_batcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <unordered_set>

#include "core/util/thread_name.h"

namespace camserve {
namespace {

// While tasks are queued, cancellation is polled at least this often.
constexpr int64_t kCancellationPollUs = 1000;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

int64_t SaturatingAdd(int64_t a, int64_t b) { return b > kNever - a ? kNever : a + b; }

thread_local int current_worker_index = -1;

Status ValidateOptions(const DynamicBatcher::Options& o) {
  if (o.max_batch_size < 1) return BadOptionError("max_batch_size", ">= 1", o.max_batch_size);
  if (o.max_queue_delay_us < 0) return BadOptionError("max_queue_delay_us", ">= 0", o.max_queue_delay_us);
  if (o.max_queue_size < 1) return BadOptionError("max_queue_size", ">= 1", o.max_queue_size);
  if (o.priority_levels < 1) return BadOptionError("priority_levels", ">= 1", o.priority_levels);
  if (o.worker_count < 1) return BadOptionError("worker_count", ">= 1", o.worker_count);
  for (int size : o.preferred_batch_sizes) {
    if (size < 1 || size > o.max_batch_size) {
      return BadOptionError("preferred_batch_sizes entries", "in [1, max_batch_size]", size);
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<DynamicBatcher>> DynamicBatcher::Create(const Options& options, Processor processor,
                                                                 std::shared_ptr<Clock> clock) {
  CAMSERVE_RETURN_IF_ERROR(ValidateOptions(options));
  if (!processor) return InvalidArgumentError("processor must be set");
  if (!clock) return InvalidArgumentError("clock must be set");
  return std::unique_ptr<DynamicBatcher>(new DynamicBatcher(options, std::move(processor), std::move(clock)));
}

DynamicBatcher::DynamicBatcher(const Options& options, Processor processor, std::shared_ptr<Clock> clock)
    : options_(options), processor_(std::move(processor)), clock_(std::move(clock)) {
  {
    absl::MutexLock lock(&mu_);
    busy_.assign(options_.worker_count, false);
  }
  for (int i = 0; i < options_.worker_count; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

DynamicBatcher::~DynamicBatcher() { Shutdown(); }

Status DynamicBatcher::Submit(std::unique_ptr<BatchTask>& task) {
  if (task->priority < 0 || task->priority >= options_.priority_levels) {
    return InvalidArgumentError("priority must be in [0, " + std::to_string(options_.priority_levels - 1) + "]; was " +
                                std::to_string(task->priority));
  }
  {
    absl::MutexLock lock(&mu_);
    if (!accepting_) return UnavailableError("the server is shutting down");
    if (static_cast<int>(queue_.size()) >= options_.max_queue_size) {
      return UnavailableError("exceeds maximum queue size (" + std::to_string(options_.max_queue_size) + ")");
    }
    task->enqueued_us = clock_->NowMicros();
    queue_.push_back(std::move(task));
  }
  cv_.SignalAll();
  return Status::Ok();
}

int DynamicBatcher::QueueDepth() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(queue_.size());
}

bool DynamicBatcher::IsAccepting() const {
  absl::MutexLock lock(&mu_);
  return accepting_;
}

void DynamicBatcher::Shutdown(int64_t drain_timeout_us) {
  {
    absl::MutexLock lock(&mu_);
    if (accepting_) {
      accepting_ = false;
      draining_ = true;
      drain_deadline_us_ = SaturatingAdd(clock_->NowMicros(), std::max<int64_t>(0, drain_timeout_us));
    }
  }
  cv_.SignalAll();
  for (std::thread& worker : workers_) {
    if (worker.joinable() && worker.get_id() != std::this_thread::get_id()) worker.join();
  }
}

void DynamicBatcher::SweepQueue(int64_t now_us, std::vector<std::pair<std::unique_ptr<BatchTask>, Status>>* ended) {
  const bool drain_expired = draining_ && now_us >= drain_deadline_us_;
  for (auto it = queue_.begin(); it != queue_.end();) {
    BatchTask& task = **it;
    Status status;
    if (drain_expired) {
      status = UnavailableError("the server shut down before this request ran");
    } else if (now_us >= task.DeadlineMicros()) {
      status = Status(StatusCode::kDeadlineExceeded,
                      "deadline passed after " + std::to_string(now_us - task.enqueued_us) + " us in the queue");
    } else if (task.IsCancelled()) {
      status = Status(StatusCode::kCancelled, "cancelled by the client while queued");
    }
    if (status.ok()) {
      ++it;
    } else {
      ended->emplace_back(std::move(*it), status);
      it = queue_.erase(it);
    }
  }
}

DynamicBatcher::Batch DynamicBatcher::TakeDueBatch(int64_t now_us, int64_t* wake_us) {
  // Groups in the order they are served: most urgent priority, then oldest.
  std::vector<const std::string*> groups;
  std::unordered_set<std::string> seen;
  for (int level = 0; level < options_.priority_levels; ++level) {
    for (const auto& task : queue_) {
      if (task->priority == level && seen.insert(task->group_key).second) groups.push_back(&task->group_key);
    }
  }
  const int largest_preferred =
      options_.preferred_batch_sizes.empty()
          ? 0
          : *std::max_element(options_.preferred_batch_sizes.begin(), options_.preferred_batch_sizes.end());
  for (const std::string* group : groups) {
    // Members in serving order: priority, then arrival.
    std::vector<size_t> members;
    int64_t oldest_us = kNever;
    for (int level = 0; level < options_.priority_levels; ++level) {
      for (size_t i = 0; i < queue_.size(); ++i) {
        if (queue_[i]->priority == level && queue_[i]->group_key == *group) {
          members.push_back(i);
          oldest_us = std::min(oldest_us, queue_[i]->enqueued_us);
        }
      }
    }
    const int available = static_cast<int>(members.size());
    const bool full = available >= options_.max_batch_size;
    const int64_t due_us = SaturatingAdd(oldest_us, options_.max_queue_delay_us);
    const bool due = full || draining_ || (largest_preferred > 0 && available >= largest_preferred) || now_us >= due_us;
    if (!due) {
      *wake_us = std::min(*wake_us, due_us);
      continue;
    }
    int size = std::min(available, options_.max_batch_size);
    if (!full) {
      int best_preferred = 0;
      for (int preferred : options_.preferred_batch_sizes) {
        if (preferred <= size) best_preferred = std::max(best_preferred, preferred);
      }
      if (best_preferred > 0) size = best_preferred;
    }
    members.resize(size);
    Batch batch;
    for (size_t index : members) batch.push_back(std::move(queue_[index]));
    std::sort(members.begin(), members.end());
    for (auto it = members.rbegin(); it != members.rend(); ++it) queue_.erase(queue_.begin() + *it);
    return batch;
  }
  return {};
}

void DynamicBatcher::RunOutsideLock(std::vector<std::pair<std::unique_ptr<BatchTask>, Status>> ended, Batch batch) {
  try {
    for (auto& [task, status] : ended) task->FinishEarly(status);
    if (!batch.empty()) processor_(std::move(batch));
  } catch (const std::exception& e) {
    spdlog::error("batcher: an exception escaped the batch processor and its tasks were lost: {}", e.what());
  } catch (...) {
    spdlog::error("batcher: an exception of unknown type escaped the batch processor and its tasks were lost");
  }
}

bool DynamicBatcher::MayTakeBatch(int index) const {
  for (int lower = 0; lower < index; ++lower) {
    if (!busy_[lower]) return false;
  }
  return true;
}

int DynamicBatcher::CurrentWorkerIndex() { return current_worker_index; }

void DynamicBatcher::WorkerLoop(int index) {
  current_worker_index = index;
  SetCurrentThreadName("batch-worker-" + std::to_string(index));
  mu_.Lock();
  for (;;) {
    const int64_t now_us = clock_->NowMicros();
    std::vector<std::pair<std::unique_ptr<BatchTask>, Status>> ended;
    SweepQueue(now_us, &ended);
    int64_t wake_us = kNever;
    // A worker above 0 waits while a lower one is free (draining: all work).
    Batch batch = MayTakeBatch(index) || draining_ ? TakeDueBatch(now_us, &wake_us) : Batch();
    if (!ended.empty() || !batch.empty()) {
      const bool took = !batch.empty();
      busy_[index] = took;
      // The next worker up may take what is left now that this one is busy.
      if (took && !queue_.empty()) cv_.SignalAll();
      mu_.Unlock();
      RunOutsideLock(std::move(ended), std::move(batch));
      mu_.Lock();
      if (took) {
        busy_[index] = false;
        cv_.SignalAll();
      }
      continue;
    }
    if (draining_ && queue_.empty()) break;
    if (!queue_.empty()) {
      wake_us = std::min(wake_us, SaturatingAdd(now_us, kCancellationPollUs));
      for (const auto& task : queue_) wake_us = std::min(wake_us, task->DeadlineMicros());
    }
    if (draining_) wake_us = std::min(wake_us, drain_deadline_us_);
    if (wake_us == kNever) {
      cv_.Wait(&mu_);
    } else {
      clock_->WaitUntil(&mu_, &cv_, wake_us);
    }
  }
  mu_.Unlock();
}

}  // namespace camserve
