// DynamicBatcher: merges concurrent requests into batches for one model.
//
// A request (BatchTask) waits in a queue until a worker takes it in a batch.
// A batch holds only tasks with the same group_key (same model, method, layer
// and input shape; targets may differ) and at most max_batch_size of them.
// Which batch next: the oldest task of the most urgent priority level picks
// the group. The batch is dispatched when it is full, when it reaches the
// largest preferred batch size, or when its oldest task has waited
// max_queue_delay_us; then it takes the largest preferred size that fits, or
// all there is. Latency bound for a lone request: max_queue_delay_us.
//
// A task whose deadline passes while queued is finished DEADLINE_EXCEEDED, a
// cancelled one CANCELLED; neither reaches the processor. Submit to a full
// queue (max_queue_size) or after Shutdown fails at once with UNAVAILABLE and
// hands the task back.
//
// Thread-safety: Submit and Shutdown may be called from any thread. The
// processor runs on the batcher's worker threads (worker_count of them), never
// under the batcher's lock, and must finish every task it is given without
// throwing. The worker threads never die of an exception: one that escapes
// the processor or a task's FinishEarly is caught and logged (the tasks it
// held are lost, which is the processor's bug to fix).
// Ownership: tasks are moved in; the batcher finishes them itself (early
// endings) or moves them to the processor.
//
// Create validates the options: "max_batch_size must be >= 1; was 0".
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/batching/clock.h"
#include "core/util/status.h"

namespace camserve {

// One queued request. Subclasses carry the payload and the reply path.
class BatchTask {
 public:
  virtual ~BatchTask() = default;

  // Ends a task that will never be processed (expired, cancelled, shut down).
  // Called exactly once, outside the batcher's lock.
  virtual void FinishEarly(const Status& status) = 0;
  // Polled while queued; true once the client gave up.
  // Lock order: called with the batcher's lock held. It must not block or
  // call into the batcher; it may take locks of its own that are never held
  // while calling into the batcher (ModelRunner's jobs take the
  // RequestCoalescer's: batcher before coalescer).
  virtual bool IsCancelled() const { return false; }

  // The deadline now: clock time after which the task is DEADLINE_EXCEEDED if
  // still queued. Polled like IsCancelled, under the same lock order rules;
  // a task whose deadline can move (one computation answering several
  // requests) overrides it. Default: deadline_us.
  virtual int64_t DeadlineMicros() const { return deadline_us; }

  // Tasks with equal keys may share a batch.
  std::string group_key;
  // 0 is the most urgent; must be < DynamicBatcher::Options::priority_levels.
  int priority = 0;
  // Clock time after which the task is DEADLINE_EXCEEDED if still queued.
  int64_t deadline_us = std::numeric_limits<int64_t>::max();
  // Set by Submit: when the task entered the queue.
  int64_t enqueued_us = 0;
};

class DynamicBatcher {
 public:
  struct Options {
    // Most tasks in one batch. Default: 8.
    int max_batch_size = 8;
    // How long the oldest queued task of a group may wait for company, in
    // microseconds. 0 dispatches at once. Default: 2000.
    int64_t max_queue_delay_us = 2000;
    // Batch sizes the processor runs best at; each in [1, max_batch_size].
    // Empty: any size. Default: empty.
    std::vector<int> preferred_batch_sizes;
    // Most tasks queued (not counting running batches); more are UNAVAILABLE.
    // Default: 256.
    int max_queue_size = 256;
    // Number of priority levels (0 = most urgent). Default: 2.
    int priority_levels = 2;
    // Worker threads, each running one batch at a time. Worker 0 takes every
    // due batch it can; worker k > 0 takes one only while workers 0..k-1
    // are all running batches, so that a lone stream of batches stays on
    // worker 0 (which may then use every core). Default: 1.
    int worker_count = 1;
  };

  using Batch = std::vector<std::unique_ptr<BatchTask>>;
  // Runs one batch; must finish every task. Called on a worker thread.
  using Processor = std::function<void(Batch batch)>;

  static StatusOr<std::unique_ptr<DynamicBatcher>> Create(const Options& options, Processor processor,
                                                          std::shared_ptr<Clock> clock);
  // Shuts down (see Shutdown) with a drain of 0: queued tasks are processed.
  ~DynamicBatcher();

  // Queues `task`. On failure (queue full, shut down, bad priority) the task
  // is handed back through `task` untouched and the Status says why.
  Status Submit(std::unique_ptr<BatchTask>& task) ABSL_LOCKS_EXCLUDED(mu_);

  // Stops accepting, dispatches what is queued without waiting for company,
  // and joins the workers. Tasks still queued after `drain_timeout_us` are
  // finished UNAVAILABLE. Idempotent.
  void Shutdown(int64_t drain_timeout_us = std::numeric_limits<int64_t>::max()) ABSL_LOCKS_EXCLUDED(mu_);

  // Tasks queued now (not counting running batches).
  int QueueDepth() const ABSL_LOCKS_EXCLUDED(mu_);

  // False once Shutdown has begun (health checks report NOT_SERVING then).
  bool IsAccepting() const ABSL_LOCKS_EXCLUDED(mu_);

  // The index of the batcher worker the calling thread is (0 ..
  // worker_count - 1), or -1 on any other thread: the processor's way to
  // tell worker 0, which runs lone batches, from the spill-over workers.
  static int CurrentWorkerIndex();

  // -- implementation details follow ---------------------------------------
 private:
  DynamicBatcher(const Options& options, Processor processor, std::shared_ptr<Clock> clock);
  void WorkerLoop(int index) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether worker `index` may take a batch now: every lower worker is busy.
  bool MayTakeBatch(int index) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends `ended` early and runs `batch`, catching what escapes.
  void RunOutsideLock(std::vector<std::pair<std::unique_ptr<BatchTask>, Status>> ended, Batch batch)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Removes expired and cancelled tasks into `ended`.
  void SweepQueue(int64_t now_us, std::vector<std::pair<std::unique_ptr<BatchTask>, Status>>* ended)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes a batch that is due, or returns an empty batch and sets `wake_us`
  // to when to look again.
  Batch TakeDueBatch(int64_t now_us, int64_t* wake_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const Processor processor_;
  const std::shared_ptr<Clock> clock_;
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<std::unique_ptr<BatchTask>> queue_ ABSL_GUARDED_BY(mu_);  // in arrival order
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  int64_t drain_deadline_us_ ABSL_GUARDED_BY(mu_) = 0;
  // Per worker: running a batch now.
  std::vector<bool> busy_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> workers_;
};

}  // namespace camserve
