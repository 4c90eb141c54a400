// ModelRunner: serves explanations of one model. It owns the model's engine
// (an ExplainBackend) and its DynamicBatcher, and turns single requests
// (ExplainJob) into batches: jobs with the same method, target layer and input
// shape share one forward and one backward pass; targets, top-k and output
// resolution may differ within a batch.
//
// Checks that would otherwise fail a whole batch (unknown layer, class out of
// range) are made per job in Submit, before queueing.
//
// Decoded images are preprocessed (resized, normalised: LibTorch ops) on the
// batch worker, right before their batch, not on the caller's thread: ops on
// other threads would give each of those threads an OpenMP pool of its own,
// and with more OpenMP threads than cores the forward slows down
// (docs/benchmarks.md, "Component costs").
//
// Thread-safety: Submit, Shutdown and the accessors may be called from any
// thread. `done` callbacks run on a batcher worker thread, or inline in Submit
// when the job is refused at once; each is called exactly once and must not
// block for long (the next batch waits).
// Ownership: the runner owns the backend and the batcher.
// Errors (through `done`): INVALID_ARGUMENT (layer, class, input), UNAVAILABLE
// (queue full, shutting down), DEADLINE_EXCEEDED / CANCELLED (expired or
// cancelled while queued, never computed), or what the engine returns.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "core/batching/clock.h"
#include "core/batching/dynamic_batcher.h"
#include "core/engine/explain_backend.h"
#include "core/util/status.h"

namespace camserve {

// One request as the runner sees it: its options and its input, either a
// decoded image (preprocessed on the worker) or an already prepared tensor.
struct ExplainJob {
  CamMethodKind method = CamMethodKind::kGradCam;
  // Empty: the model's default layer.
  std::string target_layer;
  // Unset: the top-1 prediction.
  std::optional<int> target_class;
  int top_k = 5;
  HeatmapResolution resolution = HeatmapResolution::kInput;
  // The input: a decoded image, preprocessed on the worker; or, when `image`
  // is null, an already prepared `input` (raw tensors).
  std::shared_ptr<const DecodedImage> image;
  PreparedInput input;
  // 0 is the most urgent.
  int priority = 0;
  // Runner clock time after which the job is DEADLINE_EXCEEDED if still queued.
  int64_t deadline_us = std::numeric_limits<int64_t>::max();
  // Polled while queued; true once the client gave up. May be empty.
  std::function<bool()> is_cancelled;
};

struct ExplainOutcome {
  ExplainResult result;
  // queue (from Submit until the batch started), preprocess (this job's
  // image on the worker; absent for tensors), and the batch's forward,
  // backward and cam.
  StageTimings timings;
  // Jobs in the batch this one ran in.
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
    // Called on the worker with the size of every batch that reaches the
    // engine (for the batch-size metric). May be empty.
    std::function<void(int batch_size)> on_batch;
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

  const ModelInfo& info() const { return backend_->info(); }
  const std::string& version() const { return options_.version; }
  const Preprocessor& preprocessor() const { return backend_->preprocessor(); }
  // Sorted usable target layers (computed once at Create).
  const std::set<std::string>& usable_layers() const { return usable_layers_; }
  Clock& clock() const { return *clock_; }
  int QueueDepth() const { return batcher_->QueueDepth(); }
  bool IsAccepting() const { return batcher_->IsAccepting(); }

  // -- implementation details follow ---------------------------------------
 private:
  class Task;
  ModelRunner(std::unique_ptr<ExplainBackend> backend, const Options& options, std::shared_ptr<Clock> clock);
  Status CheckJob(const ExplainJob& job) const;
  void RunBatch(DynamicBatcher::Batch batch);

  std::unique_ptr<ExplainBackend> backend_;
  const Options options_;
  std::shared_ptr<Clock> clock_;
  std::set<std::string> usable_layers_;
  std::unique_ptr<DynamicBatcher> batcher_;
};

}  // namespace camserve
