// Helpers shared by the engine tests: where generated models and fixtures
// live, raw float32 files, and engines with test-friendly options.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/explainer_engine.h"

namespace camserve::testing {

inline std::string EnvDir(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) FAIL(std::string(name) + " is not set (run the tests through ctest)");
  return value;
}
inline std::string ModelDir() { return EnvDir("CAMSERVE_MODEL_DIR"); }
inline std::string TestDataDir() { return EnvDir("CAMSERVE_TEST_DATA_DIR"); }
inline std::string EngineFixture(const std::string& name) { return TestDataDir() + "/engine/" + name; }

inline std::vector<float> ReadFloats(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) FAIL("cannot read " + path);
  const std::streamsize bytes = in.tellg();
  std::vector<float> values(static_cast<size_t>(bytes) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(values.data()), bytes);
  return values;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) FAIL("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The device engine tests run on: CAMSERVE_TEST_DEVICE, default "cpu".
inline std::string TestDevice() {
  const char* device = std::getenv("CAMSERVE_TEST_DEVICE");
  return device ? device : "cpu";
}

inline std::unique_ptr<ExplainerEngine> MakeEngine(const std::string& model_path, int warmup_iterations = 1) {
  EngineOptions options;
  options.model_path = model_path;
  options.device = TestDevice();
  options.warmup_iterations = warmup_iterations;
  StatusOr<std::unique_ptr<ExplainerEngine>> engine = ExplainerEngine::Create(options);
  INFO(engine.status().ToString());
  REQUIRE(engine.ok());
  return std::move(engine).value();
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
