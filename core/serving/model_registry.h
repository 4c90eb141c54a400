// ModelRegistry: the models one camserve process serves, each behind its own
// ModelRunner (engine + dynamic batcher), loaded from the ServerConfig.
//
// Thread-safety: built once at start-up, then read-only apart from the
// runners themselves (which are thread-safe); Find and the accessors may be
// called from any thread.
// Errors: Load returns the first model that fails to load (its name, path and
// the engine's reason); NOT_FOUND from Find names the served models.
// Cost: Load reads, optimises and warms up every model (seconds each).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config/server_config.h"
#include "core/metrics/server_metrics.h"
#include "core/serving/model_runner.h"

namespace camserve {

class ModelRegistry {
 public:
  // `metrics` (may be null; borrowed, must outlive the registry) receives
  // every batch's size.
  static StatusOr<std::unique_ptr<ModelRegistry>> Load(const ServerConfig& config, std::shared_ptr<Clock> clock,
                                                       ServerMetrics* metrics = nullptr);

  // `name` empty: the default model.
  StatusOr<ModelRunner*> Find(const std::string& name) const;
  const std::string& default_model() const { return default_model_; }
  // Runners in configuration order, and the names they are served under.
  std::vector<ModelRunner*> runners() const;
  const std::vector<std::string>& names() const { return names_; }

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
