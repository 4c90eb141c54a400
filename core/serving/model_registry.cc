#include "core/serving/model_registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/engine/explainer_engine.h"
#include "core/model/model_fingerprint.h"

namespace camserve {
namespace {

EngineOptions EngineOptionsFor(const ServerConfig& config, const ModelConfig& model) {
  EngineOptions options;
  options.model_path = model.path;
  options.device = config.device;
  options.intra_op_threads = config.threads_intra_op;
  options.inter_op_threads = config.threads_inter_op;
  return options;
}

DynamicBatcher::Options BatcherOptionsFor(const ServerConfig& config) {
  DynamicBatcher::Options options;
  options.max_batch_size = config.batcher_max_batch_size;
  options.max_queue_delay_us = config.batcher_max_queue_delay_us;
  options.preferred_batch_sizes = config.batcher_preferred_batch_sizes;
  options.max_queue_size = config.batcher_max_queue_size;
  options.worker_count = config.batcher_workers;
  options.priority_levels = config.batcher_priority_levels;
  return options;
}

StatusOr<std::unique_ptr<ModelRunner>> LoadRunner(const ServerConfig& config, const ModelConfig& model,
                                                  std::shared_ptr<Clock> clock, ServerMetrics* metrics) {
  const std::string where = "model '" + model.name + "' (" + model.path + "): ";
  StatusOr<std::unique_ptr<ExplainerEngine>> engine = ExplainerEngine::Create(EngineOptionsFor(config, model));
  if (!engine.ok()) return Status(engine.status().code(), where + engine.status().message());
  StatusOr<ModelSidecar> sidecar = LoadModelSidecar(model.path, SidecarPathFor(model.path), ModelSidecarDefaults{});
  if (!sidecar.ok()) return Status(sidecar.status().code(), where + sidecar.status().message());
  ModelRunner::Options options;
  options.batcher = BatcherOptionsFor(config);
  options.profile_stages = config.profiling_enabled;
  if (metrics != nullptr) {
    options.on_batch = [metrics, name = model.name](int batch_size) { metrics->RecordBatch(name, batch_size); };
  }
  StatusOr<std::string> version = ModelFingerprint(model.path, *sidecar);
  if (!version.ok()) return Status(version.status().code(), where + version.status().message());
  options.version = *version;
  StatusOr<std::unique_ptr<ModelRunner>> runner = ModelRunner::Create(std::move(engine).value(), options, clock);
  if (!runner.ok()) return Status(runner.status().code(), where + runner.status().message());
  return runner;
}

}  // namespace

StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::Load(const ServerConfig& config, std::shared_ptr<Clock> clock,
                                                             ServerMetrics* metrics) {
  if (config.models.empty()) return InvalidArgumentError("models: no model configured (use --model PATH)");
  // Names first: a configuration mistake should not wait for every model to load.
  std::unique_ptr<ModelRegistry> registry(new ModelRegistry());
  for (const ModelConfig& model : config.models) {
    if (!registry->by_name_.emplace(model.name, nullptr).second) {
      return InvalidArgumentError("models: the name '" + model.name + "' is used twice");
    }
    registry->names_.push_back(model.name);
  }
  registry->default_model_ = config.default_model.empty() ? config.models.front().name : config.default_model;
  if (registry->by_name_.count(registry->default_model_) == 0) {
    return InvalidArgumentError("default_model: '" + registry->default_model_ + "' is not a configured model");
  }
  // Models are served under their configured names, which may differ from
  // the sidecar's.
  for (const ModelConfig& model : config.models) {
    StatusOr<std::unique_ptr<ModelRunner>> runner = LoadRunner(config, model, clock, metrics);
    if (!runner.ok()) return runner.status();
    spdlog::info("serving model '{}', version {}", model.name, (*runner)->version());
    registry->by_name_[model.name] = runner->get();
    registry->runners_.push_back(std::move(runner).value());
  }
  return registry;
}

StatusOr<ModelRunner*> ModelRegistry::Find(const std::string& name) const {
  const std::string& wanted = name.empty() ? default_model_ : name;
  auto it = by_name_.find(wanted);
  if (it != by_name_.end()) return it->second;
  std::string served;
  for (const auto& [model_name, runner] : by_name_) served += (served.empty() ? "" : ", ") + model_name;
  return NotFoundError("unknown model '" + wanted + "'; served models: " + served);
}

std::vector<ModelRunner*> ModelRegistry::runners() const {
  std::vector<ModelRunner*> all;
  for (const auto& runner : runners_) all.push_back(runner.get());
  return all;
}

void ModelRegistry::Shutdown(int64_t drain_timeout_us) {
  // One deadline for all: each runner drains within what is left of it.
  const auto start = std::chrono::steady_clock::now();
  for (const auto& runner : runners_) {
    const int64_t spent_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    runner->Shutdown(std::max<int64_t>(0, drain_timeout_us - spent_us));
  }
}

}  // namespace camserve
