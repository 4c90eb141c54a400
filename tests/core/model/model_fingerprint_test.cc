#include "core/model/model_fingerprint.h"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdio>

#include <fstream>

namespace camserve {
namespace {

TEST_CASE("the model fingerprint follows the file's bytes, the preprocessing, layouts and a reduced precision") {
  char path[] = "/tmp/camserve_fingerprint_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  auto write = [&](const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; };
  ModelSidecar sidecar;
  auto fingerprint = [&] {
    StatusOr<std::string> value = ModelFingerprint(path, sidecar);
    REQUIRE(value.ok());
    return *value;
  };
  write("model one");
  StatusOr<std::string> first = ModelFingerprint(path, sidecar);
  REQUIRE(first.ok());
  CHECK(first->rfind("sha256:", 0) == 0);
  CHECK(first->size() == 7 + 64);
  CHECK(fingerprint() == *first);
  sidecar.labels = {"renamed"};
  CHECK(fingerprint() == *first);
  sidecar.mean[1] = 0.5f;
  CHECK(fingerprint() != *first);
  sidecar = ModelSidecar();
  // fp32 is the version without a precision; others differ from it and
  // from each other.
  CHECK(*ModelFingerprint(path, sidecar, "fp32") == *first);
  const std::string bf16 = *ModelFingerprint(path, sidecar, "bf16");
  CHECK(bf16 != *first);
  CHECK(*ModelFingerprint(path, sidecar, "fp16") != bf16);
  // A declared layer layout changes that layer's maps.
  sidecar.layer_layouts["features.7"] = LayerLayout::kNhwc;
  CHECK(fingerprint() != *first);
  sidecar = ModelSidecar();
  sidecar = ModelSidecar();
  write("model two");
  CHECK(fingerprint() != *first);
  std::remove(path);
  CHECK(ModelFingerprint(path, sidecar).status().code() == StatusCode::kNotFound);
}

}  // namespace
}  // namespace camserve
