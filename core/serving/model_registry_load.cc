// ModelRegistry::Load: the registry's models read from TorchScript files. The
// only part of serving that needs the engine (and so LibTorch); it lives in
// its own library, camserve_model_loading, so that the rest of serving and
// its tests build without LibTorch.
#include <spdlog/spdlog.h>

#include "core/engine/explainer_engine.h"
#include "core/model/model_fingerprint.h"
#include "core/serving/model_registry.h"

namespace camserve {
namespace {

StatusOr<std::unique_ptr<ModelRunner>> LoadRunner(const ModelRegistry::Options& registry_options,
                                                  const ModelRegistry::ServedModel& model,
                                                  std::shared_ptr<Clock> clock) {
  const std::string where = "model '" + model.name + "' (" + model.path + "): ";
  EngineOptions engine_options = registry_options.engine;
  engine_options.model_path = model.path;
  if (!model.precision.empty()) engine_options.precision = model.precision;
  StatusOr<std::unique_ptr<ExplainerEngine>> engine = ExplainerEngine::Create(engine_options);
  if (!engine.ok()) return Status(engine.status().code(), where + engine.status().message());
  StatusOr<ModelSidecar> sidecar = LoadModelSidecar(model.path, SidecarPathFor(model.path), ModelSidecarDefaults{});
  if (!sidecar.ok()) return Status(sidecar.status().code(), where + sidecar.status().message());
  ModelRunner::Options options = registry_options.runner;
  if (registry_options.on_batch) {
    options.on_batch = [hook = registry_options.on_batch, name = model.name](int batch_size) {
      hook(name, batch_size);
    };
  }
  if (registry_options.on_device_lost) {
    options.on_device_lost = [hook = registry_options.on_device_lost, name = model.name](const Status& why) {
      hook(name, why);
    };
  }
  StatusOr<std::string> version = ModelFingerprint(model.path, *sidecar, (*engine)->info().precision);
  if (!version.ok()) return Status(version.status().code(), where + version.status().message());
  options.version = *version;
  StatusOr<std::unique_ptr<ModelRunner>> runner = ModelRunner::Create(std::move(engine).value(), options, clock);
  if (!runner.ok()) return Status(runner.status().code(), where + runner.status().message());
  return runner;
}

}  // namespace

StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::Load(const Options& options, std::shared_ptr<Clock> clock) {
  if (options.models.empty()) return InvalidArgumentError("models: no model configured (use --model PATH)");
  // Names first: a configuration mistake should not wait for every model to load.
  std::unique_ptr<ModelRegistry> registry(new ModelRegistry());
  for (const ServedModel& model : options.models) {
    if (!registry->by_name_.emplace(model.name, nullptr).second) {
      return InvalidArgumentError("models: the name '" + model.name + "' is used twice");
    }
    registry->names_.push_back(model.name);
  }
  registry->default_model_ = options.default_model.empty() ? options.models.front().name : options.default_model;
  if (registry->by_name_.count(registry->default_model_) == 0) {
    return InvalidArgumentError("default_model: '" + registry->default_model_ + "' is not a configured model");
  }
  for (const ServedModel& model : options.models) {
    StatusOr<std::unique_ptr<ModelRunner>> runner = LoadRunner(options, model, clock);
    if (!runner.ok()) return runner.status();
    spdlog::info("serving model '{}', version {}", model.name, (*runner)->version());
    registry->by_name_[model.name] = runner->get();
    registry->runners_.push_back(std::move(runner).value());
  }
  return registry;
}

}  // namespace camserve
