// Tests for EncodeJpeg: round trips through DecodeImage (lossy, so within a
// mean-absolute-error bound), exact dimensions, argument checks.
#include "core/image/jpeg_encoder.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "core/image/image_decoder.h"

namespace camserve {
namespace {

// A smooth RGB image (gradients and a slow wave): what JPEG compresses well.
std::vector<uint8_t> SmoothRgb(int width, int height) {
  std::vector<uint8_t> rgb(size_t(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(255.0 * x / std::max(1, width - 1));
      p[1] = static_cast<uint8_t>(255.0 * y / std::max(1, height - 1));
      p[2] = static_cast<uint8_t>(127.5 + 100.0 * std::sin((x + y) / 20.0));
    }
  }
  return rgb;
}

double MeanAbsError(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  REQUIRE(a.size() == b.size());
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += std::abs(int(a[i]) - int(b[i]));
  return sum / static_cast<double>(a.size());
}

DecodedImage RoundTrip(const std::vector<uint8_t>& rgb, int width, int height, int quality) {
  const StatusOr<std::string> jpeg = EncodeJpeg(rgb.data(), width, height, quality);
  INFO(jpeg.status().ToString());
  REQUIRE(jpeg.ok());
  CHECK(DetectImageFormat(jpeg.value()) == ImageFormat::kJpeg);
  StatusOr<DecodedImage> decoded = DecodeImage(jpeg.value());
  INFO(decoded.status().ToString());
  REQUIRE(decoded.ok());
  return std::move(decoded).value();
}

TEST_CASE("A smooth image round-trips closely at quality 95", "[jpeg_encoder]") {
  const std::vector<uint8_t> rgb = SmoothRgb(224, 224);
  const DecodedImage decoded = RoundTrip(rgb, 224, 224, 95);
  REQUIRE(decoded.width == 224);
  REQUIRE(decoded.height == 224);
  CHECK(MeanAbsError(decoded.rgb, rgb) < 2.0);
}

TEST_CASE("Lower quality is smaller and less exact", "[jpeg_encoder]") {
  const std::vector<uint8_t> rgb = SmoothRgb(128, 96);
  const StatusOr<std::string> high = EncodeJpeg(rgb.data(), 128, 96, 95);
  const StatusOr<std::string> low = EncodeJpeg(rgb.data(), 128, 96, 10);
  REQUIRE(high.ok());
  REQUIRE(low.ok());
  CHECK(low->size() < high->size());
  CHECK(MeanAbsError(RoundTrip(rgb, 128, 96, 10).rgb, rgb) > MeanAbsError(RoundTrip(rgb, 128, 96, 95).rgb, rgb));
}

TEST_CASE("Dimensions are preserved exactly, odd sizes included", "[jpeg_encoder]") {
  // 4:2:0 works on 16x16 blocks; sizes that are not multiples must survive.
  for (const auto& [width, height] : {std::pair{1, 1}, std::pair{17, 5}, std::pair{31, 33}, std::pair{300, 7}}) {
    const DecodedImage decoded = RoundTrip(SmoothRgb(width, height), width, height, 90);
    CHECK(decoded.width == width);
    CHECK(decoded.height == height);
    CHECK(decoded.rgb.size() == size_t(width) * height * 3);
  }
}

TEST_CASE("Bad arguments are INVALID_ARGUMENT naming the value", "[jpeg_encoder]") {
  const std::vector<uint8_t> rgb = SmoothRgb(4, 4);
  struct Case {
    const uint8_t* rgb;
    int width, height, quality;
    const char* mentions;
  };
  for (const Case& c :
       {Case{nullptr, 4, 4, 90, "null"}, Case{rgb.data(), 0, 4, 90, "0x4"}, Case{rgb.data(), 4, -1, 90, "4x-1"},
        Case{rgb.data(), 70000, 1, 90, "70000x1"}, Case{rgb.data(), 4, 4, 0, "quality must be in [1, 100]; was 0"},
        Case{rgb.data(), 4, 4, 101, "was 101"}}) {
    const StatusOr<std::string> jpeg = EncodeJpeg(c.rgb, c.width, c.height, c.quality);
    INFO(jpeg.status().ToString());
    CHECK(jpeg.status().code() == StatusCode::kInvalidArgument);
    CHECK(jpeg.status().message().find(c.mentions) != std::string::npos);
  }
}

TEST_CASE("Quality bounds 1 and 100 are accepted", "[jpeg_encoder]") {
  const std::vector<uint8_t> rgb = SmoothRgb(16, 16);
  CHECK(EncodeJpeg(rgb.data(), 16, 16, 1).ok());
  CHECK(EncodeJpeg(rgb.data(), 16, 16, 100).ok());
}

}  // namespace
}  // namespace camserve
