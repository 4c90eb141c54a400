// Tests for FloatHeatmapFromProto (decoding and contract checks) and
// ResizeBilinear (against values from PyTorch's
// F.interpolate(mode="bilinear", align_corners=False)).
#include "client/cli/float_heatmap.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace camserve {
namespace {

using Catch::Matchers::Contains;

v1::Heatmap Float32Heatmap(int width, int height, const std::string& data) {
  v1::Heatmap heatmap;
  heatmap.set_width(width);
  heatmap.set_height(height);
  heatmap.set_encoding(v1::HEATMAP_ENCODING_FLOAT32);
  heatmap.set_data(data);
  return heatmap;
}

FloatHeatmap MakeHeatmap(int width, int height, std::vector<float> values) {
  return FloatHeatmap{width, height, std::move(values)};
}

void CheckValues(const FloatHeatmap& actual, int width, int height, const std::vector<float>& expected) {
  REQUIRE(actual.width_px == width);
  REQUIRE(actual.height_px == height);
  REQUIRE(actual.values.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("value " << i);
    CHECK(actual.values[i] == Approx(expected[i]).margin(1e-6));
  }
}

TEST_CASE("FLOAT32 data decodes as little-endian floats", "[float_heatmap]") {
  // 1.0f, -2.0f, 0.5f, 0.0f
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\xc0\x00\x00\x00\x3f\x00\x00\x00\x00", 16);
  StatusOr<FloatHeatmap> heatmap = FloatHeatmapFromProto(Float32Heatmap(2, 2, data));
  REQUIRE(heatmap.ok());
  CheckValues(*heatmap, 2, 2, {1.0f, -2.0f, 0.5f, 0.0f});
}

TEST_CASE("A heatmap that breaks the API's contract is INTERNAL", "[float_heatmap]") {
  v1::Heatmap png = Float32Heatmap(1, 1, std::string(4, '\0'));
  png.set_encoding(v1::HEATMAP_ENCODING_PNG_HEATMAP);
  const StatusOr<FloatHeatmap> wrong_encoding = FloatHeatmapFromProto(png);
  CHECK(wrong_encoding.status().code() == StatusCode::kInternal);
  CHECK_THAT(wrong_encoding.status().message(), Contains("HEATMAP_ENCODING_PNG_HEATMAP"));

  const StatusOr<FloatHeatmap> short_data = FloatHeatmapFromProto(Float32Heatmap(2, 2, std::string(15, '\0')));
  CHECK(short_data.status().code() == StatusCode::kInternal);
  CHECK_THAT(short_data.status().message(), Contains("15 bytes") && Contains("expected 16"));

  CHECK(FloatHeatmapFromProto(Float32Heatmap(0, 3, "")).status().code() == StatusCode::kInternal);
  CHECK(FloatHeatmapFromProto(Float32Heatmap(-1, -4, std::string(16, '\0'))).status().code() == StatusCode::kInternal);
}

TEST_CASE("Resizing to the same size keeps the values", "[float_heatmap]") {
  const FloatHeatmap heatmap = MakeHeatmap(3, 2, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f});
  CheckValues(ResizeBilinear(heatmap, 3, 2), 3, 2, heatmap.values);
}

TEST_CASE("Upsampling matches PyTorch's bilinear with half-pixel centres", "[float_heatmap]") {
  CheckValues(ResizeBilinear(MakeHeatmap(2, 2, {0, 1, 2, 3}), 4, 4), 4, 4,
              {0.0f, 0.25f, 0.75f, 1.0f,  //
               0.5f, 0.75f, 1.25f, 1.5f,  //
               1.5f, 1.75f, 2.25f, 2.5f,  //
               2.0f, 2.25f, 2.75f, 3.0f});
  // A non-integer scale (3 -> 5) and an unchanged axis (1 -> 1).
  CheckValues(ResizeBilinear(MakeHeatmap(3, 1, {0, 1, 4}), 5, 1), 5, 1, {0.0f, 0.4f, 1.0f, 2.8f, 4.0f});
}

TEST_CASE("Downsampling matches PyTorch's bilinear without antialiasing", "[float_heatmap]") {
  std::vector<float> ramp(16);
  for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<float>(i);
  CheckValues(ResizeBilinear(MakeHeatmap(4, 4, ramp), 2, 2), 2, 2, {2.5f, 4.5f, 10.5f, 12.5f});
}

TEST_CASE("A 1x1 heatmap resizes to a constant", "[float_heatmap]") {
  CheckValues(ResizeBilinear(MakeHeatmap(1, 1, {0.7f}), 3, 2), 3, 2, std::vector<float>(6, 0.7f));
}

}  // namespace
}  // namespace camserve
