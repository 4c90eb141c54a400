#include "core/serving/model_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <new>
#include <utility>

namespace camserve {

// A queued job and its reply path.
class ModelRunner::Task : public BatchTask {
 public:
  Task(ExplainJob job, ExplainDone done) : job_(std::move(job)), done_(std::move(done)) {}

  void FinishEarly(const Status& status) override { Finish(status); }
  bool IsCancelled() const override { return job_.is_cancelled && job_.is_cancelled(); }
  int64_t DeadlineMicros() const override { return job_.live_deadline_us ? job_.live_deadline_us() : deadline_us; }

  // Calls `done`; later calls do nothing.
  void Finish(StatusOr<ExplainOutcome> outcome) {
    if (!done_) return;
    ExplainDone done = std::move(done_);
    done_ = nullptr;
    done(std::move(outcome));
  }
  bool finished() const { return !done_; }
  ExplainJob& job() { return job_; }
  StageTimings& timings() { return timings_; }

 private:
  ExplainJob job_;
  ExplainDone done_;
  StageTimings timings_;
};

namespace {

std::string GroupKey(const ExplainJob& job, const std::string& layer) {
  std::string key = std::string(CamMethodName(job.method)) + "|" + layer + "|";
  for (int64_t side : job.input.shape) key += std::to_string(side) + "x";
  return key;
}

}  // namespace

StatusOr<std::unique_ptr<ModelRunner>> ModelRunner::Create(std::unique_ptr<ExplainBackend> backend,
                                                           const Options& options, std::shared_ptr<Clock> clock) {
  if (backend == nullptr) return InvalidArgumentError("ModelRunner needs a backend");
  if (!(options.service_time_smoothing > 0 && options.service_time_smoothing <= 1)) {
    return InvalidArgumentError("service_time_smoothing must be in (0, 1]; was " +
                                std::to_string(options.service_time_smoothing));
  }
  std::unique_ptr<ModelRunner> runner(new ModelRunner(std::move(backend), options, clock));
  StatusOr<std::unique_ptr<DynamicBatcher>> batcher = DynamicBatcher::Create(
      options.batcher, [raw = runner.get()](DynamicBatcher::Batch batch) { raw->RunBatch(std::move(batch)); }, clock);
  if (!batcher.ok()) return batcher.status();
  runner->batcher_ = std::move(batcher).value();
  return runner;
}

ModelRunner::ModelRunner(std::unique_ptr<ExplainBackend> backend, const Options& options, std::shared_ptr<Clock> clock)
    : backend_(std::move(backend)), options_(options), clock_(std::move(clock)) {
  for (std::string& layer : backend_->UsableLayers()) usable_layers_.insert(std::move(layer));
}

ModelRunner::~ModelRunner() {
  if (batcher_) batcher_->Shutdown();
}

void ModelRunner::Shutdown(int64_t drain_timeout_us) { batcher_->Shutdown(drain_timeout_us); }

Status ModelRunner::CheckJob(const ExplainJob& job) const {
  const ModelInfo& model = backend_->info();
  if (!job.target_layer.empty() && usable_layers_.count(job.target_layer) == 0) {
    std::string layers;
    for (const std::string& layer : usable_layers_) layers += (layers.empty() ? "" : ", ") + layer;
    return InvalidArgumentError("model '" + model.name + "' has no usable target layer '" + job.target_layer +
                                "'; usable layers: " + layers);
  }
  if (job.target_class && (*job.target_class < 0 || *job.target_class >= model.num_classes)) {
    return InvalidArgumentError("target_class " + std::to_string(*job.target_class) + " is out of range for model '" +
                                model.name + "' with " + std::to_string(model.num_classes) + " classes");
  }
  if (job.top_k < 0) return InvalidArgumentError("top_k must be >= 0; was " + std::to_string(job.top_k));
  return Status::Ok();
}

int64_t ModelRunner::EstimatedWaitMicros() const {
  const int64_t per_job = service_us_per_job_.load();
  if (per_job == 0) return 0;
  // The jobs ahead share the workers; the new job's own batch (up to
  // max_batch_size jobs) runs on one of them.
  const int64_t queued = QueueDepth();
  const int64_t ahead = queued + running_jobs_.load();
  const int64_t own_batch = std::min<int64_t>(options_.batcher.max_batch_size, queued + 1);
  return ahead * per_job / options_.batcher.worker_count + own_batch * per_job;
}

void ModelRunner::Submit(ExplainJob job, ExplainDone done) {
  if (!healthy()) {
    return done(UnavailableError("model '" + backend_->info().name + "' is unavailable: its device was lost"));
  }
  Status valid = CheckJob(job);
  if (!valid.ok()) return done(valid);
  const std::string& layer = job.target_layer.empty() ? backend_->info().default_layer : job.target_layer;
  const std::string key = GroupKey(job, layer);
  const int priority = job.priority;
  const int64_t deadline_us = job.deadline_us;
  auto task = std::make_unique<Task>(std::move(job), std::move(done));
  task->group_key = key;
  task->priority = priority;
  task->deadline_us = deadline_us;
  std::unique_ptr<BatchTask> queued = std::move(task);
  Status submitted = batcher_->Submit(queued);
  if (!submitted.ok()) static_cast<Task*>(queued.get())->Finish(submitted);
}

bool ModelRunner::Expensive(const std::vector<Task*>& tasks) {
  return std::any_of(tasks.begin(), tasks.end(),
                     [](Task* task) { return CamMethodPerturbs(task->job().method) || task->job().evaluate; });
}

void ModelRunner::RecordServiceTime(int64_t batch_us, int batch_size) {
  const double per_job = static_cast<double>(batch_us) / batch_size;
  const int64_t old = service_us_per_job_.load();
  const double alpha = options_.service_time_smoothing;
  const int64_t updated = old == 0 ? static_cast<int64_t>(per_job)
                                   : static_cast<int64_t>(alpha * per_job + (1 - alpha) * static_cast<double>(old));
  service_us_per_job_.store(std::max<int64_t>(updated, 1));
}

void ModelRunner::MarkDeviceLost(const Status& why) {
  if (!healthy_.exchange(false)) return;
  spdlog::error("model '{}': the device is lost, the model stops serving: {}", backend_->info().name, why.message());
  if (options_.on_device_lost) options_.on_device_lost(why);
}

StatusOr<BatchResult> ModelRunner::ExplainGuarded(const std::vector<Task*>& tasks) {
  std::vector<ExplainItem> items;
  for (Task* task : tasks) {
    const ExplainJob& job = task->job();
    items.push_back(ExplainItem{&job.input, job.target_class, job.top_k, job.resolution, job.evaluate});
  }
  const ExplainJob& first = tasks.front()->job();
  ExplainBatchSpec spec{first.method, first.target_layer, options_.profile_stages};
  // Perturbation runs and quality forwards stop once nobody waits.
  spec.should_stop = [this, &tasks] {
    const int64_t now_us = clock_->NowMicros();
    return std::all_of(tasks.begin(), tasks.end(),
                       [now_us](Task* task) { return task->IsCancelled() || now_us >= task->DeadlineMicros(); });
  };
  try {
    return backend_->Explain(spec, items);
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError("out of memory while explaining a batch of " + std::to_string(tasks.size()));
  } catch (const std::exception& e) {
    return InternalError(std::string("the model failed: ") + e.what());
  } catch (...) {
    return InternalError("the model failed with an exception of unknown type");
  }
}

void ModelRunner::RunAndSplit(const std::vector<Task*>& tasks) {
  if (options_.on_batch) options_.on_batch(static_cast<int>(tasks.size()));
  const int64_t start_us = clock_->NowMicros();
  StatusOr<BatchResult> result = ExplainGuarded(tasks);
  if (result.ok() && result->items.size() != tasks.size()) {
    result = InternalError("the engine answered " + std::to_string(result->items.size()) + " of " +
                           std::to_string(tasks.size()) + " items");
  }
  if (result.ok()) {
    if (!Expensive(tasks)) RecordServiceTime(clock_->NowMicros() - start_us, static_cast<int>(tasks.size()));
    for (size_t i = 0; i < tasks.size(); ++i) {
      ExplainOutcome outcome;
      outcome.result = std::move(result->items[i]);
      outcome.timings = tasks[i]->timings();
      outcome.timings.MergeFrom(result->timings);
      outcome.batch_size = static_cast<int>(tasks.size());
      FinishRunning(tasks[i], std::move(outcome));
    }
    return;
  }
  const Status& failure = result.status();
  if (failure.code() == StatusCode::kCancelled) {
    // Stopped because every job gave up: each gets its own reason.
    const int64_t now_us = clock_->NowMicros();
    for (Task* task : tasks) {
      FinishRunning(task, now_us >= task->DeadlineMicros()
                              ? Status(StatusCode::kDeadlineExceeded, "the deadline passed while computing")
                              : failure);
    }
    return;
  }
  if (failure.code() == StatusCode::kUnavailable) MarkDeviceLost(failure);
  if (tasks.size() == 1 || !healthy()) {
    for (Task* task : tasks) FinishRunning(task, failure);
    return;
  }
  // Someone in the batch fails (or the batch is too large for memory): each
  // half runs on its own, down to single jobs.
  spdlog::debug("batch of {} failed ({}); retrying it in halves", tasks.size(), failure.ToString());
  const auto middle = tasks.begin() + static_cast<std::ptrdiff_t>(tasks.size() / 2);
  RunAndSplit(std::vector<Task*>(tasks.begin(), middle));
  RunAndSplit(std::vector<Task*>(middle, tasks.end()));
}

void ModelRunner::RunBatch(DynamicBatcher::Batch batch) {
  const int64_t start_us = clock_->NowMicros();
  const int64_t estimated_end_us = start_us + service_us_per_job_.load() * static_cast<int64_t>(batch.size());
  std::vector<Task*> tasks;
  for (const auto& queued : batch) {
    Task* task = static_cast<Task*>(queued.get());
    task->timings() = StageTimings(options_.profile_stages);
    task->timings().Set(Stage::kQueue, start_us - task->enqueued_us);
    const int64_t deadline_us = task->DeadlineMicros();
    if (deadline_us < estimated_end_us) {
      task->Finish(Status(StatusCode::kDeadlineExceeded, "dropped before computing: the batch would end " +
                                                             std::to_string((estimated_end_us - deadline_us) / 1000) +
                                                             " ms after the deadline (estimated)"));
      continue;
    }
    tasks.push_back(task);
  }
  if (tasks.empty()) return;
  running_jobs_ += static_cast<int>(tasks.size());
  const int others = running_batches_.fetch_add(1);
  if (options_.intra_op_threads > 0 && options_.set_batch_threads) {
    // Worker 0 shares the threads with the batches running now (all of them
    // when alone); a spill-over worker, which runs only while worker 0 is
    // busy, keeps to its share, so it never grows a second thread team.
    const int share = DynamicBatcher::CurrentWorkerIndex() == 0 ? others + 1 : options_.batcher.worker_count;
    options_.set_batch_threads(std::max(1, options_.intra_op_threads / share));
  }
  RunAndSplit(tasks);
  running_batches_.fetch_sub(1);
}

void ModelRunner::FinishRunning(Task* task, StatusOr<ExplainOutcome> outcome) {
  // Counted out before its answer is out, so that whoever the answer wakes
  // sees the estimate without it.
  --running_jobs_;
  task->Finish(std::move(outcome));
}

}  // namespace camserve
