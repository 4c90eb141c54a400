// ModelRegistry: the models one camserve process serves, each behind its own
// ModelRunner (engine + dynamic batcher).
//
// Thread-safety: built once at start-up, then read-only apart from the
// runners themselves (which are thread-safe); Find and the accessors may be
// called from any thread.
// Errors: Load returns the first model that fails to load (its name, path and
// the engine's reason); NOT_FOUND from Find names the served models.
// Cost: Load reads, optimises and warms up every model (seconds each).
// Load is in its own library, camserve_model_loading: it is the only part of
// serving that needs the engine's LibTorch; FromRunners and the rest do not.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/engine/explainer_engine.h"
#include "core/serving/model_runner.h"

namespace camserve {

class ModelRegistry {
 public:
  struct ServedModel {
    // The name clients use; may differ from the sidecar's.
    std::string name;
    // The TorchScript file (its NAME.yaml sidecar beside it is read).
    std::string path;
    // fp32, bf16 or fp16; empty: Options::engine's.
    std::string precision;
  };

  struct Options {
    // Required, names unique.
    std::vector<ServedModel> models;
    // The model for requests that name none; empty: the first.
    std::string default_model;
    // Every model's engine (model_path is set per model).
    EngineOptions engine;
    // Every model's runner (version is set per model: its fingerprint).
    ModelRunner::Options runner;
    // Called with the model's name and each engine run's size. May be empty.
    std::function<void(const std::string& model, int batch_size)> on_batch;
    // Called once with the model's name when its device is lost. May be
    // empty.
    std::function<void(const std::string& model, const Status& why)> on_device_lost;
  };

  static StatusOr<std::unique_ptr<ModelRegistry>> Load(const Options& options, std::shared_ptr<Clock> clock);

  // A registry of runners made elsewhere (tests, embedders), served under
  // the given names; `default_model` empty: the first.
  // INVALID_ARGUMENT for no runners, a null runner or a repeated name.
  static StatusOr<std::unique_ptr<ModelRegistry>> FromRunners(
      std::vector<std::pair<std::string, std::unique_ptr<ModelRunner>>> runners, std::string default_model = "");

  // `name` empty: the default model.
  StatusOr<ModelRunner*> Find(const std::string& name) const;
  const std::string& default_model() const { return default_model_; }
  // Runners in configuration order, and the names they are served under.
  std::vector<ModelRunner*> runners() const;
  const std::vector<std::string>& names() const { return names_; }
  // False once any model's device is lost.
  bool healthy() const;

  // Shuts every runner down; they share one drain deadline.
  void Shutdown(int64_t drain_timeout_us);

 private:
  ModelRegistry() = default;
  std::vector<std::unique_ptr<ModelRunner>> runners_;
  std::vector<std::string> names_;  // parallel to runners_
  std::map<std::string, ModelRunner*> by_name_;
  std::string default_model_;
};

}  // namespace camserve
