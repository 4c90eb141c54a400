#include "core/serving/model_runner.h"

#include <utility>

namespace camserve {

// A queued job and its reply path.
class ModelRunner::Task : public BatchTask {
 public:
  Task(ExplainJob job, ExplainDone done) : job_(std::move(job)), done_(std::move(done)) {}

  void FinishEarly(const Status& status) override { Finish(status); }
  bool IsCancelled() const override { return job_.is_cancelled && job_.is_cancelled(); }

  void Finish(StatusOr<ExplainOutcome> outcome) { done_(std::move(outcome)); }
  ExplainJob& job() { return job_; }

 private:
  ExplainJob job_;
  ExplainDone done_;
};

namespace {

// Images are all resized to the model's input size.
std::string GroupKey(const ExplainJob& job, const std::string& layer, const ModelInfo& model) {
  const std::vector<int64_t> shape =
      job.image ? std::vector<int64_t>{3, model.input_height_px, model.input_width_px} : job.input.shape;
  std::string key = std::string(CamMethodName(job.method)) + "|" + layer + "|";
  for (int64_t side : shape) key += std::to_string(side) + "x";
  return key;
}

}  // namespace

StatusOr<std::unique_ptr<ModelRunner>> ModelRunner::Create(std::unique_ptr<ExplainBackend> backend,
                                                           const Options& options, std::shared_ptr<Clock> clock) {
  if (backend == nullptr) return InvalidArgumentError("ModelRunner needs a backend");
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

void ModelRunner::Submit(ExplainJob job, ExplainDone done) {
  Status valid = CheckJob(job);
  if (!valid.ok()) return done(valid);
  const std::string& layer = job.target_layer.empty() ? backend_->info().default_layer : job.target_layer;
  const std::string key = GroupKey(job, layer, backend_->info());
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

void ModelRunner::RunBatch(DynamicBatcher::Batch batch) {
  const int64_t start_us = clock_->NowMicros();
  std::vector<Task*> tasks;
  std::vector<StageTimings> timings;
  for (const auto& queued : batch) {
    Task* task = static_cast<Task*>(queued.get());
    ExplainJob& job = task->job();
    StageTimings task_timings(options_.profile_stages);
    task_timings.Set(Stage::kQueue, start_us - task->enqueued_us);
    if (job.image) {
      StageTimer preprocess_timer(&task_timings, Stage::kPreprocess);
      StatusOr<PreparedInput> input = backend_->preprocessor().FromDecodedImage(*job.image);
      if (!input.ok()) {
        task->Finish(input.status());
        continue;
      }
      job.input = std::move(input).value();
    }
    timings.push_back(task_timings);
    tasks.push_back(task);
  }
  if (tasks.empty()) return;
  if (options_.on_batch) options_.on_batch(static_cast<int>(tasks.size()));
  std::vector<ExplainItem> items;
  for (Task* task : tasks) {
    const ExplainJob& job = task->job();
    items.push_back(ExplainItem{&job.input, job.target_class, job.top_k, job.resolution});
  }
  const ExplainJob& first = tasks.front()->job();
  StatusOr<BatchResult> result =
      backend_->Explain(ExplainBatchSpec{first.method, first.target_layer, options_.profile_stages}, items);
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (!result.ok()) {
      tasks[i]->Finish(result.status());
      continue;
    }
    ExplainOutcome outcome;
    outcome.result = std::move(result->items[i]);
    outcome.timings = timings[i];
    outcome.timings.MergeFrom(result->timings);
    outcome.batch_size = static_cast<int>(tasks.size());
    tasks[i]->Finish(std::move(outcome));
  }
}

}  // namespace camserve
