#include "core/serving/heatmap_encoding.h"

#include <catch2/catch.hpp>

#include <cstring>

#include "core/image/colormap.h"

namespace camserve {
namespace {

Heatmap TwoByTwo() {
  Heatmap heatmap;
  heatmap.width_px = 2;
  heatmap.height_px = 2;
  heatmap.values = {0.f, 0.25f, 0.5f, 1.f};
  return heatmap;
}

TEST_CASE("FLOAT32 is the values' little-endian bytes, row-major") {
  StatusOr<std::string> bytes = EncodeHeatmap(TwoByTwo(), HeatmapEncoding::kFloat32, nullptr);
  REQUIRE(bytes.ok());
  REQUIRE(bytes->size() == 16);
  float values[4];
  std::memcpy(values, bytes->data(), 16);
  CHECK(values[1] == 0.25f);
  CHECK(values[3] == 1.f);
  CHECK(static_cast<uint8_t>((*bytes)[15]) == 0x3f);  // 1.0f = 0x3f800000, little-endian
}

TEST_CASE("UINT8 rounds 255 * value") {
  StatusOr<std::string> bytes = EncodeHeatmap(TwoByTwo(), HeatmapEncoding::kUint8, nullptr);
  REQUIRE(bytes.ok());
  CHECK(std::vector<uint8_t>(bytes->begin(), bytes->end()) == std::vector<uint8_t>{0, 64, 128, 255});
}

TEST_CASE("PNG heatmap decodes to the jet colours; the overlay blends over the resized image") {
  StatusOr<std::string> png = EncodeHeatmap(TwoByTwo(), HeatmapEncoding::kPngHeatmap, nullptr);
  REQUIRE(png.ok());
  StatusOr<DecodedImage> decoded = DecodeImage(*png);
  REQUIRE(decoded.ok());
  const Heatmap heatmap = TwoByTwo();
  CHECK(decoded->rgb == ApplyJetColormap(heatmap.values.data(), 4));

  DecodedImage white{4, 4, std::vector<uint8_t>(4 * 4 * 3, 255)};
  StatusOr<std::string> overlay = EncodeHeatmap(heatmap, HeatmapEncoding::kPngOverlay, &white);
  REQUIRE(overlay.ok());
  StatusOr<DecodedImage> blended = DecodeImage(*overlay);
  REQUIRE(blended.ok());
  CHECK(blended->width == 2);
  const std::vector<uint8_t> jet = ApplyJetColormap(heatmap.values.data(), 4);
  for (size_t i = 0; i < jet.size(); ++i) CHECK(blended->rgb[i] == std::lround(0.5 * jet[i] + 0.5 * 255));
}

TEST_CASE("an overlay without an image is INVALID_ARGUMENT") {
  StatusOr<std::string> overlay = EncodeHeatmap(TwoByTwo(), HeatmapEncoding::kPngOverlay, nullptr);
  CHECK(overlay.status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace camserve
