#include "core/model/model_fingerprint.h"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdio>

#include <fstream>

namespace camserve {
namespace {

TEST_CASE("the model fingerprint follows the file's bytes and the preprocessing") {
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
  write("model two");
  CHECK(fingerprint() != *first);
  std::remove(path);
  CHECK(ModelFingerprint(path, sidecar).status().code() == StatusCode::kNotFound);
}

}  // namespace
}  // namespace camserve
