// Where ctest puts generated models and fixtures (CAMSERVE_MODEL_DIR,
// CAMSERVE_TEST_DATA_DIR), and whole-file reads for tests. No LibTorch.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

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

}  // namespace camserve::testing
