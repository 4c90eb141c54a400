// Helpers shared by the engine tests: where generated models and fixtures
// live, raw float32 files, and engines with test-friendly options.
#pragma once

#include "tests/catch_with_libtorch.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/explainer_engine.h"
#include "tests/test_env.h"

namespace camserve::testing {

// The device engine tests run on: CAMSERVE_TEST_DEVICE, default "cpu".
inline std::string TestDevice() {
  const char* device = std::getenv("CAMSERVE_TEST_DEVICE");
  return device ? device : "cpu";
}

// LibTorch's process settings as camserve's main makes them (all cores).
inline void ConfigureTorchForTests() {
  static const int threads = ConfigureTorchProcess(TorchProcessOptions{});
  (void)threads;
}

// An engine with `options` on the test device.
inline std::unique_ptr<ExplainerEngine> MakeEngine(EngineOptions options) {
  ConfigureTorchForTests();
  options.device = TestDevice();
  StatusOr<std::unique_ptr<ExplainerEngine>> engine = ExplainerEngine::Create(options);
  INFO(engine.status().ToString());
  REQUIRE(engine.ok());
  return std::move(engine).value();
}

inline std::unique_ptr<ExplainerEngine> MakeEngine(const std::string& model_path, int warmup_iterations = 1) {
  EngineOptions options;
  options.model_path = model_path;
  options.warmup_iterations = warmup_iterations;
  return MakeEngine(std::move(options));
}

inline double MaxAbsDiff(const std::vector<float>& a, const float* b, size_t count) {
  REQUIRE(a.size() == count);
  double worst = 0;
  for (size_t i = 0; i < count; ++i) worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
  return worst;
}

inline ExplainItem Item(const PreparedInput& input, std::optional<int> target = std::nullopt,
                        HeatmapResolution resolution = HeatmapResolution::kInput, int top_k = 5) {
  ExplainItem item;
  item.input = &input;
  item.target_class = target;
  item.resolution = resolution;
  item.top_k = top_k;
  return item;
}

}  // namespace camserve::testing
