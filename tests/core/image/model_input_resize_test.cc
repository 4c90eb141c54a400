// Tests for ResizeToModelInput's layout, normalisation and choice of filter,
// with values worked out by hand. Its agreement with LibTorch's kernels over
// many sizes is tested in tests/core/engine/preprocessor_test.cc, which may
// use LibTorch.
#include "core/image/model_input_resize.h"

#include <catch2/catch.hpp>
#include <vector>

namespace camserve {
namespace {

const std::array<float, 3> kMean = {0.485f, 0.456f, 0.406f};
const std::array<float, 3> kStd = {0.229f, 0.224f, 0.225f};

float Normalized(float byte, int channel) { return (byte / 255.f - kMean[channel]) / kStd[channel]; }

DecodedImage Image(int width, int height, std::vector<uint8_t> rgb) {
  return DecodedImage{width, height, std::move(rgb)};
}

DecodedImage Uniform(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  DecodedImage image{width, height, {}};
  for (int i = 0; i < width * height; ++i) image.rgb.insert(image.rgb.end(), {r, g, b});
  return image;
}

TEST_CASE("a uniform image stays uniform at any size, one normalised plane per channel") {
  const std::pair<int, int> sizes[] = {{40, 30}, {16, 12}, {64, 48}, {5, 3}, {1, 1}, {300, 1}, {1, 300}};
  const std::pair<int, int> targets[] = {{16, 12}, {224, 224}, {1, 1}, {7, 2}};
  for (const auto& [width, height] : sizes) {
    for (const auto& [out_width, out_height] : targets) {
      INFO(width << "x" << height << " -> " << out_width << "x" << out_height);
      const std::vector<float> input =
          ResizeToModelInput(Uniform(width, height, 10, 128, 250), out_width, out_height, kMean, kStd);
      const size_t plane = static_cast<size_t>(out_width) * out_height;
      REQUIRE(input.size() == 3 * plane);
      const float bytes[] = {10, 128, 250};
      for (int c = 0; c < 3; ++c) {
        const float expected = Normalized(bytes[c], c);
        for (size_t i = 0; i < plane; ++i) REQUIRE(input[c * plane + i] == Approx(expected).margin(1e-6));
      }
    }
  }
}

TEST_CASE("an image at the model's size is only normalised") {
  const std::vector<float> input = ResizeToModelInput(Image(2, 1, {0, 255, 51, 255, 0, 102}), 2, 1, kMean, kStd);
  const std::vector<float> expected = {Normalized(0, 0), Normalized(255, 0), Normalized(255, 1),
                                       Normalized(0, 1), Normalized(51, 2),  Normalized(102, 2)};
  CHECK(input == expected);
}

TEST_CASE("shrinking antialiases, growing interpolates between neighbours") {
  // A red ramp 0, 70, 140, 210 along x. Halved with the triangle filter of
  // support 2: (3 * 0 + 3 * 70 + 140) / 7 = 50 and (70 + 3 * 140 + 3 * 210) /
  // 7 = 160 (plain bilinear would give 35 and 175).
  const DecodedImage ramp = Image(4, 1, {0, 0, 0, 70, 0, 0, 140, 0, 0, 210, 0, 0});
  const std::vector<float> halved = ResizeToModelInput(ramp, 2, 1, kMean, kStd);
  CHECK(halved[0] == Approx(Normalized(50, 0)).margin(1e-6));
  CHECK(halved[1] == Approx(Normalized(160, 0)).margin(1e-6));
  // Doubled: source positions -0.25 (clamped), 0.25, 0.75, ..., 3.25 (clamped).
  const std::vector<float> doubled = ResizeToModelInput(ramp, 8, 1, kMean, kStd);
  const float expected[] = {0, 17.5f, 52.5f, 87.5f, 122.5f, 157.5f, 192.5f, 210};
  for (int x = 0; x < 8; ++x) CHECK(doubled[x] == Approx(Normalized(expected[x], 0)).margin(1e-6));
  // Mixed (width halves, height doubles): antialiased along x, and along y
  // the triangle filter of a growing side, bilinear again.
  const DecodedImage tall = Image(4, 2, {0, 0, 0, 70, 0, 0, 140, 0, 0, 210, 0, 0,  //
                                         0, 0, 0, 0,  0, 0, 0,   0, 0, 0,   0, 0});
  const std::vector<float> mixed = ResizeToModelInput(tall, 2, 4, kMean, kStd);
  const float column_weights[] = {1, 0.75f, 0.25f, 0};
  for (int y = 0; y < 4; ++y) {
    INFO("row " << y);
    CHECK(mixed[y * 2] == Approx(Normalized(50 * column_weights[y], 0)).margin(1e-6));
    CHECK(mixed[y * 2 + 1] == Approx(Normalized(160 * column_weights[y], 0)).margin(1e-6));
  }
}

}  // namespace
}  // namespace camserve
