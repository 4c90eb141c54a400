// Tests for the request images: distinct JPEGs in unique mode, the file's
// bytes in repeated mode, the stamp, and the errors.
#include "client/bench/image_pool.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/image/image_decoder.h"
#include "core/image/png_encoder.h"

namespace camserve {
namespace {

DecodedImage GradientImage(int width, int height) {
  DecodedImage image;
  image.width = width;
  image.height = height;
  image.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<uint8_t>(i / 3 % 200 + 20);
  return image;
}

std::string AsPng(const DecodedImage& image) {
  StatusOr<std::string> png = EncodePng(image.rgb.data(), image.width, image.height, 3);
  REQUIRE(png.ok());
  return *png;
}

TEST_CASE("StampBits is ceil(log2(count)), at least 1, plus 24 salt bits", "[image_pool]") {
  CHECK(StampBits(1) == 1 + 24);
  CHECK(StampBits(2) == 1 + 24);
  CHECK(StampBits(3) == 2 + 24);
  CHECK(StampBits(1024) == 10 + 24);
  CHECK(StampBits(1025) == 11 + 24);
  CHECK(StampBits(2048) == 11 + 24);
}

TEST_CASE("StampValue writes one 8x8 cell per bit, least significant first", "[image_pool]") {
  DecodedImage image = GradientImage(20, 20);  // 3 x 3 cells, the last column clipped
  StampValue(0b1011, 4, &image);
  auto pixel = [&](int x, int y) { return image.rgb[(static_cast<size_t>(y) * 20 + x) * 3]; };
  CHECK(pixel(0, 0) == 255);  // bit 0 = 1
  CHECK(pixel(7, 7) == 255);
  CHECK(pixel(8, 0) == 255);  // bit 1 = 1
  CHECK(pixel(16, 3) == 0);   // bit 2 = 0, in the clipped cell
  CHECK(pixel(19, 7) == 0);
  CHECK(pixel(0, 8) == 255);                                          // bit 3 = 1, next row of cells
  CHECK(pixel(8, 8) == GradientImage(20, 20).rgb[(8 * 20 + 8) * 3]);  // untouched
}

TEST_CASE("Unique mode makes distinct JPEGs of the base image's size", "[image_pool]") {
  const DecodedImage base = GradientImage(64, 48);
  UniquePoolOptions options;
  options.count = 300;
  options.threads = 3;
  const StatusOr<std::vector<std::string>> pool = MakeUniqueJpegPool(base, options);
  INFO(pool.status().ToString());
  REQUIRE(pool.ok());
  REQUIRE(pool->size() == 300);
  CHECK(std::set<std::string>(pool->begin(), pool->end()).size() == 300);
  for (size_t k : {size_t{0}, size_t{1}, size_t{299}}) {
    REQUIRE(DetectImageFormat(pool.value()[k]) == ImageFormat::kJpeg);
    const StatusOr<DecodedImage> decoded = DecodeImage(pool.value()[k]);
    REQUIRE(decoded.ok());
    CHECK(decoded->width == 64);
    CHECK(decoded->height == 48);
  }
}

TEST_CASE("The same salt makes the same pool, another salt a disjoint one", "[image_pool]") {
  const DecodedImage base = GradientImage(64, 48);
  UniquePoolOptions options;
  options.count = 20;
  options.salt = 1;
  const StatusOr<std::vector<std::string>> first = MakeUniqueJpegPool(base, options);
  const StatusOr<std::vector<std::string>> again = MakeUniqueJpegPool(base, options);
  options.salt = 2;
  const StatusOr<std::vector<std::string>> other = MakeUniqueJpegPool(base, options);
  REQUIRE(first.ok());
  REQUIRE(again.ok());
  REQUIRE(other.ok());
  CHECK(first.value() == again.value());
  std::set<std::string> all(first.value().begin(), first.value().end());
  all.insert(other.value().begin(), other.value().end());
  CHECK(all.size() == 40);
}

TEST_CASE("MakeRequestImages: file bytes when repeated, a pool when unique", "[image_pool]") {
  const std::string png = AsPng(GradientImage(64, 64));
  UniquePoolOptions options;
  options.count = 5;
  const StatusOr<std::vector<std::string>> repeated = MakeRequestImages(png, ImageMode::kRepeated, options);
  REQUIRE(repeated.ok());
  CHECK(repeated.value() == std::vector<std::string>{png});
  const StatusOr<std::vector<std::string>> unique = MakeRequestImages(png, ImageMode::kUnique, options);
  REQUIRE(unique.ok());
  CHECK(unique->size() == 5);
}

TEST_CASE("Pool errors name the problem", "[image_pool]") {
  UniquePoolOptions options;
  options.count = 2048;  // 11 + 24 bits
  const StatusOr<std::vector<std::string>> tiny = MakeUniqueJpegPool(GradientImage(40, 48), options);
  CHECK(tiny.status().code() == StatusCode::kInvalidArgument);
  CHECK(tiny.status().message().find("40x48 has 30 8x8 cells, 35 needed") != std::string::npos);
  options.count = 2;  // 1 + 24 bits fit in 30 cells
  CHECK(MakeUniqueJpegPool(GradientImage(40, 48), options).ok());

  options.count = 0;
  CHECK(MakeUniqueJpegPool(GradientImage(16, 16), options).status().message().find("was 0") != std::string::npos);
  options.count = 2;
  options.jpeg_quality = 101;
  CHECK(MakeUniqueJpegPool(GradientImage(16, 16), options).status().message().find("was 101") != std::string::npos);

  const StatusOr<std::vector<std::string>> not_image = MakeRequestImages("GIF89a...", ImageMode::kRepeated, {});
  CHECK(not_image.status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace camserve
