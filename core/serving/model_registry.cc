#include "core/serving/model_registry.h"

#include <algorithm>
#include <chrono>

namespace camserve {
StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::FromRunners(
    std::vector<std::pair<std::string, std::unique_ptr<ModelRunner>>> runners, std::string default_model) {
  if (runners.empty()) return InvalidArgumentError("models: no model given");
  std::unique_ptr<ModelRegistry> registry(new ModelRegistry());
  for (auto& [name, runner] : runners) {
    if (runner == nullptr) return InvalidArgumentError("models: the runner of '" + name + "' is null");
    if (!registry->by_name_.emplace(name, runner.get()).second) {
      return InvalidArgumentError("models: the name '" + name + "' is used twice");
    }
    registry->names_.push_back(name);
    registry->runners_.push_back(std::move(runner));
  }
  registry->default_model_ = default_model.empty() ? registry->names_.front() : default_model;
  if (registry->by_name_.count(registry->default_model_) == 0) {
    return InvalidArgumentError("default_model: '" + registry->default_model_ + "' is not a given model");
  }
  return registry;
}

bool ModelRegistry::healthy() const {
  for (const auto& runner : runners_) {
    if (!runner->healthy()) return false;
  }
  return true;
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
