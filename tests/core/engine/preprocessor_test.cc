#include "core/engine/preprocessor.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "tests/core/engine/engine_test_util.h"

namespace camserve {
namespace {

using testing::EngineFixture;
using testing::MaxAbsDiff;
using testing::ReadBytes;
using testing::ReadFloats;

Preprocessor MakePreprocessor(int height, int width) {
  ModelSidecar sidecar;
  sidecar.input_height_px = height;
  sidecar.input_width_px = width;
  return Preprocessor(sidecar, DecodeOptions{}, TensorLimits{});
}

TEST_CASE("images are resized and normalised like torch (antialiased when shrinking)") {
  const std::string png = ReadBytes(EngineFixture("preprocess_source.png"));
  struct Case {
    int height, width;
    const char* reference;
  };
  for (const Case& c : {Case{12, 16, "preprocess_shrink.f32"}, Case{48, 64, "preprocess_grow.f32"}}) {
    INFO(c.reference);
    StatusOr<PreparedInput> input = MakePreprocessor(c.height, c.width).FromEncodedImage(png);
    REQUIRE(input.ok());
    CHECK(input->shape == std::vector<int64_t>{3, c.height, c.width});
    CHECK(input->original_width_px == 40);
    CHECK(input->original_height_px == 30);
    std::vector<float> expected = ReadFloats(EngineFixture(c.reference));
    CHECK(MaxAbsDiff(expected, input->data.data(), input->data.size()) <= 1e-5);
  }
}

// What the preprocessor did with LibTorch before it had its own resize: the
// reference for the C++ one. from_blob + permute + to(kFloat) gives a
// channels-last tensor (torchvision's ToTensor a contiguous one); the
// kernels' results for the two layouts differ by float rounding only.
std::vector<float> ResizeWithLibTorch(const DecodedImage& image, int height, int width) {
  const int64_t h = image.height, w = image.width;
  at::Tensor pixels = at::from_blob(const_cast<uint8_t*>(image.rgb.data()), {1, h, w, 3}, at::kByte)
                          .permute({0, 3, 1, 2})
                          .to(at::kFloat)
                          .div_(255.f);
  const std::array<int64_t, 2> size = {height, width};
  pixels = h > height || w > width ? at::_upsample_bilinear2d_aa(pixels, size, /*align_corners=*/false)
                                   : at::upsample_bilinear2d(pixels, size, /*align_corners=*/false);
  const at::Tensor mean = at::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
  const at::Tensor std = at::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
  pixels = ((pixels - mean) / std).contiguous();
  return std::vector<float>(pixels.data_ptr<float>(), pixels.data_ptr<float>() + pixels.numel());
}

// Uniform noise: every frequency present, the hardest input for a resampler.
DecodedImage NoiseImage(int width, int height, uint32_t seed) {
  std::mt19937 random(seed);
  DecodedImage image;
  image.width = width;
  image.height = height;
  image.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (uint8_t& byte : image.rgb) byte = static_cast<uint8_t>(random() % 256);
  return image;
}

TEST_CASE("the C++ resize matches LibTorch's within 1e-5 (antialiased when either side shrinks)") {
  struct Case {
    int width, height, out_width, out_height;
  };
  // Shrinks by non-integer and integer factors, growths, the identity,
  // mixed (one side shrinks, the other grows), one-pixel sides, and down to
  // one pixel (every sample weighs in).
  const Case cases[] = {{640, 480, 224, 224}, {1000, 750, 224, 224}, {1920, 1080, 224, 224}, {448, 448, 224, 224},
                        {672, 672, 224, 224}, {40, 30, 16, 12},      {7, 5, 3, 2},           {40, 30, 64, 48},
                        {5, 3, 224, 224},     {224, 224, 224, 224},  {500, 20, 224, 224},    {20, 500, 224, 224},
                        {1, 1, 224, 224},     {300, 1, 224, 224},    {1, 300, 224, 224},     {224, 224, 1, 1}};
  uint32_t seed = 1;
  for (const Case& c : cases) {
    INFO(c.width << "x" << c.height << " -> " << c.out_width << "x" << c.out_height << " (width x height)");
    const DecodedImage image = NoiseImage(c.width, c.height, seed++);
    StatusOr<PreparedInput> input = MakePreprocessor(c.out_height, c.out_width).FromDecodedImage(image);
    REQUIRE(input.ok());
    REQUIRE(input->shape == std::vector<int64_t>{3, c.out_height, c.out_width});
    const std::vector<float> expected = ResizeWithLibTorch(image, c.out_height, c.out_width);
    const double max_abs_diff = MaxAbsDiff(expected, input->data.data(), input->data.size());
    CHECK(max_abs_diff <= 1e-5);
  }
}

TEST_CASE("an image already at the input size is only normalised") {
  DecodedImage image;
  image.width = 2;
  image.height = 1;
  image.rgb = {0, 255, 51, 255, 0, 102};
  StatusOr<PreparedInput> input = MakePreprocessor(1, 2).FromDecodedImage(image);
  REQUIRE(input.ok());
  // Channel-major: R of both pixels, then G, then B.
  const float expected[] = {(0.f - 0.485f) / 0.229f, (1.f - 0.485f) / 0.229f,  (1.f - 0.456f) / 0.224f,
                            (0.f - 0.456f) / 0.224f, (0.2f - 0.406f) / 0.225f, (0.4f - 0.406f) / 0.225f};
  for (int i = 0; i < 6; ++i) CHECK(input->data[i] == Approx(expected[i]).margin(1e-5));
}

TEST_CASE("the same-size path matches torch's normalisation for every byte value") {
  DecodedImage image;
  image.width = 16;
  image.height = 16;
  for (int i = 0; i < 16 * 16 * 3; ++i) image.rgb.push_back(static_cast<uint8_t>((i * 7) % 256));
  StatusOr<PreparedInput> input = MakePreprocessor(16, 16).FromDecodedImage(image);
  REQUIRE(input.ok());
  const at::Tensor mean = at::tensor({0.485f, 0.456f, 0.406f}).view({3, 1, 1});
  const at::Tensor std = at::tensor({0.229f, 0.224f, 0.225f}).view({3, 1, 1});
  const at::Tensor expected =
      ((at::from_blob(image.rgb.data(), {16, 16, 3}, at::kByte).permute({2, 0, 1}).to(at::kFloat) / 255.f - mean) / std)
          .contiguous();
  CHECK(MaxAbsDiff(std::vector<float>(expected.data_ptr<float>(), expected.data_ptr<float>() + expected.numel()),
                   input->data.data(), input->data.size()) <= 1e-6);
}

TEST_CASE("bad images are INVALID_ARGUMENT") {
  Preprocessor preprocessor = MakePreprocessor(32, 32);
  for (const std::string& bytes :
       {std::string(), std::string("GIF89a not supported"), std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16)}) {
    StatusOr<PreparedInput> input = preprocessor.FromEncodedImage(bytes);
    REQUIRE_FALSE(input.ok());
    CHECK(input.status().code() == StatusCode::kInvalidArgument);
    CHECK_FALSE(input.status().message().empty());
  }
}

TEST_CASE("raw tensors are validated, not resized") {
  Preprocessor preprocessor = MakePreprocessor(32, 32);
  SECTION("accepted as [3,H,W] and [1,3,H,W]") {
    for (const std::vector<int64_t>& shape : {std::vector<int64_t>{3, 16, 24}, std::vector<int64_t>{1, 3, 16, 24}}) {
      StatusOr<PreparedInput> input = preprocessor.FromTensor(shape, std::vector<float>(3 * 16 * 24, 0.25f));
      REQUIRE(input.ok());
      CHECK(input->shape == std::vector<int64_t>{3, 16, 24});
      CHECK(input->original_width_px == 24);
      CHECK(input->original_height_px == 16);
    }
  }
  SECTION("wrong shapes, counts and values are refused with the reason") {
    struct Case {
      std::vector<int64_t> shape;
      std::vector<float> data;
      const char* reason;
    };
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> with_nan(3 * 16 * 16, 0.f);
    with_nan[100] = nan;
    for (const Case& c :
         {Case{{16, 16}, {}, "must be [3, H, W]"}, Case{{4, 16, 16}, std::vector<float>(4 * 256), "must be [3, H, W]"},
          Case{{2, 3, 16, 16}, std::vector<float>(2 * 768), "must be [3, H, W]"},
          Case{{3, 16, 16}, std::vector<float>(10), "needs 768 float32 values; got 10"},
          Case{{3, 2, 16}, std::vector<float>(96), "height and width must be in"},
          Case{{3, 16, 9000}, {}, "height and width must be in"},
          Case{{3, 16, 16}, with_nan, "non-finite value at index 100"}}) {
      StatusOr<PreparedInput> input = preprocessor.FromTensor(c.shape, c.data);
      REQUIRE_FALSE(input.ok());
      CHECK(input.status().code() == StatusCode::kInvalidArgument);
      CHECK_THAT(input.status().message(), Catch::Contains(c.reason));
    }
  }
  SECTION("wire bytes must hold whole float32 values") {
    StatusOr<PreparedInput> input = preprocessor.FromTensorBytes({3, 16, 16}, std::string(7, '\0'));
    REQUIRE_FALSE(input.ok());
    CHECK_THAT(input.status().message(), Catch::Contains("not a whole number of float32"));
    std::vector<float> values(768, 1.5f);
    std::string bytes(768 * 4, '\0');
    std::memcpy(bytes.data(), values.data(), bytes.size());
    StatusOr<PreparedInput> ok = preprocessor.FromTensorBytes({3, 16, 16}, bytes);
    REQUIRE(ok.ok());
    CHECK(ok->data == values);
  }
}

}  // namespace
}  // namespace camserve
