// ModelRunner: serves explanations of one model. It owns the model's engine
// (an ExplainBackend) and its DynamicBatcher, and turns single requests
// (ExplainJob) into batches: jobs with the same method, target layer and input
// shape share one forward and one backward pass; targets, top-k and output
// resolution may differ within a batch. Jobs arrive preprocessed (the caller
// resized and normalised the image), so the batch worker only computes.
//
// Checks that would otherwise fail a whole batch (unknown layer, class out of
// range) are made per job in Submit, before queueing.
//
// Fault isolation: whatever the backend does (an error Status, any
// exception, std::bad_alloc) becomes a Status, and the worker thread lives
// on. A batch that fails is split in halves and each half retried, down to
// single jobs, so only the jobs that fail on their own get the error; the
// others get what they would get alone. A job that fails alone gets the
// backend's Status: INTERNAL for a model fault (with the model's message),
// RESOURCE_EXHAUSTED for out of memory. UNAVAILABLE from the backend means
// the device is lost: the batch fails, the runner turns unhealthy
// (healthy() false, on_device_lost called once) and refuses later jobs.
//
// Load shedding: the runner measures its service time per job (a moving
// average over successful batches of one-pass methods: perturbation methods
// and quality scores cost many passes and are left out, so queued expensive
// jobs make the estimate low). EstimatedWaitMicros() tells admission
// how long a new job would take to finish; at the start of a batch, a job
// whose deadline would pass before the batch's estimated end is finished
// DEADLINE_EXCEEDED without being computed.
//
// Thread-safety: Submit, Shutdown and the accessors may be called from any
// thread. `done` callbacks run on a batcher worker thread, or inline in Submit
// when the job is refused at once; each is called exactly once and must not
// block (the next batch waits): hand encoding and storing to another thread.
// Ownership: the runner owns the backend and the batcher.
// Perturbation methods and quality scores stop between chunks once every job
// of the batch gave up (each gets DEADLINE_EXCEEDED or CANCELLED); such a
// batch is not split.
// Errors (through `done`): INVALID_ARGUMENT (layer, class, input), UNAVAILABLE
// (queue full, shutting down, device lost), DEADLINE_EXCEEDED / CANCELLED
// (expired, dropped or cancelled while queued, never computed),
// RESOURCE_EXHAUSTED (out of memory alone), INTERNAL (model fault).
#pragma once

#include <atomic>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/batching/clock.h"
#include "core/batching/dynamic_batcher.h"
#include "core/engine/explain_backend.h"
#include "core/util/status.h"

namespace camserve {

// One request as the runner sees it: its options and its model input,
// already preprocessed to the model's input size (or a raw tensor).
struct ExplainJob {
  CamMethodKind method = CamMethodKind::kGradCam;
  // Empty: the model's default layer.
  std::string target_layer;
  // Unset: the top-1 prediction.
  std::optional<int> target_class;
  int top_k = 5;
  HeatmapResolution resolution = HeatmapResolution::kInput;
  // Also compute the quality scores.
  bool evaluate = false;
  PreparedInput input;
  // 0 is the most urgent.
  int priority = 0;
  // Runner clock time after which the job is DEADLINE_EXCEEDED if not
  // started.
  int64_t deadline_us = std::numeric_limits<int64_t>::max();
  // The deadline now, when it can move (one computation answering several
  // requests: the latest deadline of those still waiting); overrides
  // deadline_us. May be empty. Called under the batcher's lock (see
  // BatchTask::IsCancelled for the lock order).
  std::function<int64_t()> live_deadline_us;
  // Polled while queued; true once nobody wants the answer. May be empty.
  std::function<bool()> is_cancelled;
};

struct ExplainOutcome {
  ExplainResult result;
  // queue (from Submit until the batch started), and the batch's forward,
  // backward and cam.
  StageTimings timings;
  // Jobs in the engine run that computed this one (after any split).
  int batch_size = 0;
};

// The outcome, or why there is none.
using ExplainDone = std::function<void(StatusOr<ExplainOutcome> outcome)>;

class ModelRunner {
 public:
  struct Options {
    DynamicBatcher::Options batcher;
    // The model's version string, reported to clients (ModelFingerprint).
    std::string version;
    // Time the stages of every job (core/profiling). Default: true.
    bool profile_stages = true;
    // Called on the worker with the size of every engine run (for the
    // batch-size metric), retries of a split batch included. May be empty.
    std::function<void(int batch_size)> on_batch;
    // Called once, on the worker, when the backend reports the device lost.
    // May be empty.
    std::function<void(const Status& why)> on_device_lost;
    // Weight of the newest batch in the service-time average, in (0, 1].
    // Default: 0.2.
    double service_time_smoothing = 0.2;
    // Intra-op threads shared by the model's concurrent batches, set through
    // set_batch_threads on the worker before each batch: on worker 0, a batch
    // that starts while k others run gets intra_op_threads / (k + 1), so a
    // lone batch uses every core; a spill-over worker (which runs only while
    // worker 0 is busy) gets intra_op_threads / worker_count; at least 1.
    // 0 or an empty set_batch_threads: the threads are left alone.
    // Default: 0.
    int intra_op_threads = 0;
    std::function<void(int threads)> set_batch_threads;
  };

  // REQUIRES: backend is not null.
  static StatusOr<std::unique_ptr<ModelRunner>> Create(std::unique_ptr<ExplainBackend> backend, const Options& options,
                                                       std::shared_ptr<Clock> clock);
  // Shuts down with the default drain.
  ~ModelRunner();

  // Queues `job`; `done` is called exactly once.
  void Submit(ExplainJob job, ExplainDone done);

  // Stops accepting and finishes the queue, waiting at most drain_timeout_us.
  void Shutdown(int64_t drain_timeout_us);

  // The checks Submit makes before queueing (layer, class, top_k).
  Status CheckJob(const ExplainJob& job) const;

  // Microseconds until a job submitted now would be answered, at the
  // measured time per job: the jobs queued and running ahead of it, shared by
  // the workers, then its own batch (with the queued jobs that fit it) on one
  // worker. 0 until the first batch has been measured.
  int64_t EstimatedWaitMicros() const;
  // The measured time per job (moving average), microseconds; 0 if none yet.
  int64_t ServiceMicrosPerJob() const { return service_us_per_job_.load(); }

  const ModelInfo& info() const { return backend_->info(); }
  const std::string& version() const { return options_.version; }
  const Preprocessor& preprocessor() const { return backend_->preprocessor(); }
  // Sorted usable target layers (computed once at Create).
  const std::set<std::string>& usable_layers() const { return usable_layers_; }
  // How each target layer prepared so far runs (the engine's report).
  std::vector<LayerExecution> prepared_layers() const { return backend_->PreparedLayers(); }
  Clock& clock() const { return *clock_; }
  int QueueDepth() const { return batcher_->QueueDepth(); }
  int max_queue_size() const { return options_.batcher.max_queue_size; }
  bool IsAccepting() const { return batcher_->IsAccepting(); }
  // False once the backend reported the device lost.
  bool healthy() const { return healthy_.load(); }

  // -- implementation details follow ---------------------------------------
 private:
  class Task;
  ModelRunner(std::unique_ptr<ExplainBackend> backend, const Options& options, std::shared_ptr<Clock> clock);
  void RunBatch(DynamicBatcher::Batch batch);
  // Runs `tasks` as one engine batch, splitting on failure.
  void RunAndSplit(const std::vector<Task*>& tasks);
  // The backend's answer for `tasks`, with every exception turned into a
  // Status.
  StatusOr<BatchResult> ExplainGuarded(const std::vector<Task*>& tasks);
  // Perturbation methods or quality scores in the batch: many passes.
  static bool Expensive(const std::vector<Task*>& tasks);
  void RecordServiceTime(int64_t batch_us, int batch_size);
  // Finishes a task that RunBatch counted as running.
  void FinishRunning(Task* task, StatusOr<ExplainOutcome> outcome);
  void MarkDeviceLost(const Status& why);

  std::unique_ptr<ExplainBackend> backend_;
  const Options options_;
  std::shared_ptr<Clock> clock_;
  std::set<std::string> usable_layers_;
  std::unique_ptr<DynamicBatcher> batcher_;
  std::atomic<int64_t> service_us_per_job_{0};
  std::atomic<int> running_jobs_{0};
  std::atomic<int> running_batches_{0};
  std::atomic<bool> healthy_{true};
};

}  // namespace camserve
