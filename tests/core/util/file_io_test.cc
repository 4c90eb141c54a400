#include "core/util/file_io.h"

#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>

namespace camserve {
namespace {

TEST_CASE("files round-trip byte for byte; errors name the path") {
  // Unique per process: test binaries may run concurrently.
  const std::string path =
      (std::filesystem::temp_directory_path() / ("camserve_file_io_test_" + std::to_string(getpid()))).string();
  const std::string bytes("a,b\n\0\xff", 6);
  REQUIRE(WriteFileBytes(path, bytes).ok());
  StatusOr<std::string> read = ReadFileBytes(path);
  REQUIRE(read.ok());
  CHECK(*read == bytes);
  REQUIRE(WriteFileBytes(path, "x").ok());
  read = ReadFileBytes(path);
  CHECK(*read == "x");
  std::remove(path.c_str());

  const Status missing = ReadFileBytes(path).status();
  CHECK(missing.code() == StatusCode::kNotFound);
  CHECK(missing.message() == "cannot read " + path + ": No such file or directory");
  const Status unwritable = WriteFileBytes("/nonexistent-dir/x.csv", "x");
  CHECK(unwritable.code() == StatusCode::kFailedPrecondition);
  CHECK(unwritable.message() == "cannot write /nonexistent-dir/x.csv: No such file or directory");
}

}  // namespace
}  // namespace camserve
