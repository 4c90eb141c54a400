// Tests for EncodePng: round trips through DecodeImage, argument checks.
#include "core/image/png_encoder.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/image/image_decoder.h"

namespace camserve {
namespace {

// Deterministic pixels with every byte value and no row-to-row repetition.
std::vector<uint8_t> TestPixels(int width, int height, int channels) {
  std::vector<uint8_t> pixels(size_t(width) * height * channels);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7 + i / 5);
  return pixels;
}

DecodedImage RoundTrip(const std::vector<uint8_t>& pixels, int width, int height, int channels) {
  const StatusOr<std::string> png = EncodePng(pixels.data(), width, height, channels);
  INFO(png.status().ToString());
  REQUIRE(png.ok());
  CHECK(DetectImageFormat(png.value()) == ImageFormat::kPng);
  StatusOr<DecodedImage> decoded = DecodeImage(png.value());
  INFO(decoded.status().ToString());
  REQUIRE(decoded.ok());
  REQUIRE(decoded->width == width);
  REQUIRE(decoded->height == height);
  return std::move(decoded).value();
}

TEST_CASE("RGB round-trips exactly", "[png_encoder]") {
  for (const auto& [width, height] : {std::pair{37, 23}, std::pair{1, 1}, std::pair{224, 224}}) {
    const std::vector<uint8_t> pixels = TestPixels(width, height, 3);
    CHECK(RoundTrip(pixels, width, height, 3).rgb == pixels);
  }
}

TEST_CASE("Gray round-trips as R = G = B", "[png_encoder]") {
  const std::vector<uint8_t> gray = TestPixels(19, 11, 1);
  const DecodedImage decoded = RoundTrip(gray, 19, 11, 1);
  std::vector<uint8_t> expected;
  for (uint8_t v : gray) expected.insert(expected.end(), {v, v, v});
  CHECK(decoded.rgb == expected);
}

TEST_CASE("RGBA round-trips with alpha dropped by the decoder", "[png_encoder]") {
  const std::vector<uint8_t> rgba = TestPixels(13, 17, 4);
  const DecodedImage decoded = RoundTrip(rgba, 13, 17, 4);
  std::vector<uint8_t> expected;
  for (size_t i = 0; i < rgba.size(); i += 4) {
    expected.insert(expected.end(), {rgba[i], rgba[i + 1], rgba[i + 2]});
  }
  CHECK(decoded.rgb == expected);
}

TEST_CASE("A flat heatmap compresses well", "[png_encoder]") {
  const std::vector<uint8_t> flat(224 * 224 * 3, 90);
  const StatusOr<std::string> png = EncodePng(flat.data(), 224, 224, 3);
  REQUIRE(png.ok());
  CHECK(png->size() < flat.size() / 20);
}

TEST_CASE("Bad arguments are INVALID_ARGUMENT", "[png_encoder]") {
  const std::vector<uint8_t> pixels = TestPixels(4, 4, 4);
  struct Case {
    const uint8_t* pixels;
    int width, height, channels;
    const char* mentions;
  };
  for (const Case& c : {Case{nullptr, 4, 4, 3, "null"}, Case{pixels.data(), 0, 4, 3, "0x4"},
                        Case{pixels.data(), 4, -1, 3, "4x-1"}, Case{pixels.data(), 2000000, 1, 3, "2000000x1"},
                        Case{pixels.data(), 4, 4, 2, "channels"}, Case{pixels.data(), 4, 4, 0, "channels"}}) {
    const StatusOr<std::string> png = EncodePng(c.pixels, c.width, c.height, c.channels);
    INFO(png.status().ToString());
    CHECK(png.status().code() == StatusCode::kInvalidArgument);
    CHECK(png.status().message().find(c.mentions) != std::string::npos);
  }
}

}  // namespace
}  // namespace camserve
