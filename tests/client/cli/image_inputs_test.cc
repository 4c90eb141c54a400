// Tests for CollectImagePaths: files as given, folders expanded to their
// sorted JPEG/PNG files, and the errors.
#include "client/cli/image_inputs.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/temp_dir.h"

namespace camserve {
namespace {

using Catch::Matchers::Contains;
using Strings = std::vector<std::string>;

void Touch(const std::string& path) { std::ofstream(path) << "x"; }

TEST_CASE("A folder gives its .jpg/.jpeg/.png files, sorted, any case", "[image_inputs]") {
  TempDir dir;
  for (const char* name : {"c.jpeg", "a.PNG", "b.jpg", "notes.txt", "png", "d.Jpg"}) Touch(dir / name);
  std::filesystem::create_directory(dir / "sub.png");
  Touch(dir / "sub.png/e.png");

  StatusOr<Strings> images = CollectImagePaths({dir.path().string()});
  REQUIRE(images.ok());
  CHECK(*images == Strings{dir / "a.PNG", dir / "b.jpg", dir / "c.jpeg", dir / "d.Jpg"});
}

TEST_CASE("Files are kept as given, in argument order", "[image_inputs]") {
  TempDir dir;
  Touch(dir / "z.bin");
  std::filesystem::create_directory(dir / "folder");
  Touch(dir / "folder/y.png");
  StatusOr<Strings> images = CollectImagePaths({dir / "z.bin", dir / "folder"});
  REQUIRE(images.ok());
  CHECK(*images == Strings{dir / "z.bin", dir / "folder/y.png"});
}

TEST_CASE("Missing paths, empty folders and no arguments are errors", "[image_inputs]") {
  TempDir dir;
  const StatusOr<Strings> missing = CollectImagePaths({dir / "nope.png"});
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK_THAT(missing.status().message(), Contains(dir / "nope.png"));

  Touch(dir / "readme.txt");
  const StatusOr<Strings> empty = CollectImagePaths({dir.path().string()});
  CHECK(empty.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(empty.status().message(), Contains(dir.path().string()));

  CHECK(CollectImagePaths({}).status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace camserve
