// Tests for the files camserve-client writes per image: their names, the
// collision check, and their contents (decoded back and compared with the
// colormap, blend and .npy encoder they are made of).
#include "client/cli/heatmap_files.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "client/cli/npy_writer.h"
#include "core/image/colormap.h"
#include "tests/temp_dir.h"

namespace camserve {
namespace {

using Catch::Matchers::Contains;

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

DecodedImage DecodeFile(const std::string& path) {
  StatusOr<DecodedImage> image = DecodeImage(ReadBytes(path));
  INFO(path << ": " << image.status().ToString());
  REQUIRE(image.ok());
  return std::move(image).value();
}

DecodedImage GrayRamp(int width, int height) {
  DecodedImage image{width, height, {}};
  for (int i = 0; i < width * height; ++i) image.rgb.insert(image.rgb.end(), 3, static_cast<uint8_t>(i * 9));
  return image;
}

TEST_CASE("Files are named after the image without its extension", "[heatmap_files]") {
  const HeatmapFiles files = HeatmapFilesFor("out", "/data/cat.photo.jpg");
  CHECK(files.heatmap_png == "out/cat.photo.heatmap.png");
  CHECK(files.overlay_png == "out/cat.photo.overlay.png");
  CHECK(files.npy == "out/cat.photo.npy");
}

TEST_CASE("Two images with one stem are refused", "[heatmap_files]") {
  CHECK(CheckDistinctOutputNames({"a.png", "b.png", "dir/c.jpg"}).ok());
  const Status clash = CheckDistinctOutputNames({"a.png", "b.png", "dir/a.jpg"});
  CHECK(clash.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(clash.message(), Contains("a.png") && Contains("dir/a.jpg"));
}

TEST_CASE("A heatmap of the image's size is written as is", "[heatmap_files]") {
  TempDir dir;
  const FloatHeatmap heatmap{3, 2, {0.0f, 0.2f, 0.4f, 0.6f, 0.8f, 1.0f}};
  const DecodedImage image = GrayRamp(3, 2);
  const HeatmapFiles files = HeatmapFilesFor(dir.path().string(), "digit.png");
  REQUIRE(WriteHeatmapFiles(heatmap, image, files).ok());

  const std::vector<uint8_t> jet = ApplyJetColormap(heatmap.values.data(), heatmap.values.size());
  const DecodedImage heatmap_png = DecodeFile(files.heatmap_png);
  CHECK(heatmap_png.width == 3);
  CHECK(heatmap_png.height == 2);
  CHECK(heatmap_png.rgb == jet);
  const DecodedImage overlay_png = DecodeFile(files.overlay_png);
  CHECK(overlay_png.width == 3);
  CHECK(overlay_png.height == 2);
  CHECK(overlay_png.rgb == BlendOverlay(jet.data(), image.rgb.data(), 6, 0.5f));
  CHECK(ReadBytes(files.npy) == EncodeNpyFloat32(heatmap.values.data(), 2, 3));
}

TEST_CASE("A smaller heatmap is resized for the overlay only", "[heatmap_files]") {
  TempDir dir;
  const FloatHeatmap heatmap{2, 2, {0.0f, 1.0f, 0.5f, 0.25f}};
  const DecodedImage image = GrayRamp(4, 3);
  const HeatmapFiles files = HeatmapFilesFor(dir.path().string(), "digit.png");
  REQUIRE(WriteHeatmapFiles(heatmap, image, files).ok());

  const DecodedImage heatmap_png = DecodeFile(files.heatmap_png);
  CHECK(heatmap_png.width == 2);
  CHECK(heatmap_png.height == 2);
  const FloatHeatmap resized = ResizeBilinear(heatmap, 4, 3);
  const std::vector<uint8_t> jet = ApplyJetColormap(resized.values.data(), resized.values.size());
  const DecodedImage overlay_png = DecodeFile(files.overlay_png);
  CHECK(overlay_png.width == 4);
  CHECK(overlay_png.height == 3);
  CHECK(overlay_png.rgb == BlendOverlay(jet.data(), image.rgb.data(), 12, 0.5f));
  CHECK(ReadBytes(files.npy) == EncodeNpyFloat32(heatmap.values.data(), 2, 2));
}

TEST_CASE("An unwritable output is FAILED_PRECONDITION naming the file", "[heatmap_files]") {
  TempDir dir;
  const HeatmapFiles files = HeatmapFilesFor(dir / "missing_folder", "digit.png");
  const Status status = WriteHeatmapFiles(FloatHeatmap{1, 1, {0.5f}}, GrayRamp(1, 1), files);
  CHECK(status.code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(status.message(), Contains(files.heatmap_png));
}

}  // namespace
}  // namespace camserve
