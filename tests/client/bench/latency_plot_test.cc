// Tests for LatencyPlot: a decodable PNG of the requested size, the points
// drawn where PixelOf says in their series' colors, axes and text in ink,
// and the size limits.
#include "client/bench/latency_plot.h"

#include <catch2/catch.hpp>
#include <limits>
#include <string>
#include <vector>

#include "core/image/image_decoder.h"

namespace camserve {
namespace {

const std::vector<LatencyPoint> kPoints = {
    {18.5, 52.0, 60.0}, {35.0, 55.0, 75.0}, {60.0, 70.0, 130.0}, {64.0, 120.0, 260.0}};

Rgb PixelOf(const DecodedImage& image, int x, int y) {
  const uint8_t* p = &image.rgb[(static_cast<size_t>(y) * image.width + x) * 3];
  return {p[0], p[1], p[2]};
}

DecodedImage RenderAndDecode(const LatencyPlot& plot) {
  const StatusOr<std::string> png = plot.EncodePng();
  INFO(png.status().ToString());
  REQUIRE(png.ok());
  REQUIRE(DetectImageFormat(png.value()) == ImageFormat::kPng);
  StatusOr<DecodedImage> image = DecodeImage(png.value());
  INFO(image.status().ToString());
  REQUIRE(image.ok());
  return std::move(image).value();
}

TEST_CASE("The plot is a PNG of the requested size with every point drawn", "[latency_plot]") {
  for (const auto& [width, height] : {std::pair{800, 500}, std::pair{320, 200}}) {
    const StatusOr<LatencyPlot> plot = LatencyPlot::Create(kPoints, {width, height});
    REQUIRE(plot.ok());
    const DecodedImage image = RenderAndDecode(plot.value());
    REQUIRE(image.width == width);
    REQUIRE(image.height == height);
    for (const LatencyPoint& point : kPoints) {
      const auto [x50, y50] = plot->PixelOf(point.throughput_rps, point.p50_ms);
      const auto [x99, y99] = plot->PixelOf(point.throughput_rps, point.p99_ms);
      INFO("point at " << point.throughput_rps << " req/s, size " << width << "x" << height);
      REQUIRE(x50 > 0);
      REQUIRE(x50 < width);
      REQUIRE(y99 > 0);
      REQUIRE(y50 < height);
      CHECK(PixelOf(image, x50, y50) == LatencyPlot::kP50Color);
      CHECK(PixelOf(image, x99, y99) == LatencyPlot::kP99Color);
    }
  }
}

TEST_CASE("Higher values are drawn further right and further up", "[latency_plot]") {
  const StatusOr<LatencyPlot> plot = LatencyPlot::Create(kPoints, {});
  REQUIRE(plot.ok());
  const auto origin = plot->PixelOf(0, 0);
  const auto far = plot->PixelOf(64, 260);
  CHECK(far.first > origin.first);
  CHECK(far.second < origin.second);
  // Both axes start at 0 and end above the largest value.
  CHECK(far.first < 800);
  CHECK(far.second > 0);
}

TEST_CASE("Axes, ticks and labels are drawn in ink", "[latency_plot]") {
  const StatusOr<LatencyPlot> plot = LatencyPlot::Create(kPoints, {});
  REQUIRE(plot.ok());
  const RgbCanvas canvas = plot->Render();
  const auto [x0, y0] = plot->PixelOf(0, 0);
  CHECK(canvas.At(x0, y0) == Rgb{0, 0, 0});
  // The axis lines run from the origin up and to the right.
  const auto [x_mid, y_mid] = plot->PixelOf(32, 130);
  CHECK(canvas.At(x0, y_mid) == Rgb{0, 0, 0});
  CHECK(canvas.At(x_mid, y0) == Rgb{0, 0, 0});
  // Text (the tick labels below the x axis) puts ink under the axis.
  int ink_below_axis = 0;
  for (int y = y0 + 4; y < canvas.height_px(); ++y) {
    for (int x = 0; x < canvas.width_px(); ++x) ink_below_axis += canvas.At(x, y) == Rgb{0, 0, 0};
  }
  CHECK(ink_below_axis > 100);
}

TEST_CASE("Levels without OK answers are left out; no points still plots", "[latency_plot]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const StatusOr<LatencyPlot> plot = LatencyPlot::Create({{0, nan, nan}, {10, 5, 8}}, {});
  REQUIRE(plot.ok());
  const RgbCanvas canvas = plot->Render();
  const auto [x, y] = plot->PixelOf(10, 5);
  CHECK(canvas.At(x, y) == LatencyPlot::kP50Color);

  const StatusOr<LatencyPlot> empty = LatencyPlot::Create({}, {});
  REQUIRE(empty.ok());
  CHECK(empty->EncodePng().ok());
}

TEST_CASE("Sizes out of range are INVALID_ARGUMENT naming the size", "[latency_plot]") {
  for (const auto& [width, height] :
       {std::pair{199, 500}, std::pair{800, 149}, std::pair{10001, 500}, std::pair{0, 0}}) {
    const StatusOr<LatencyPlot> plot = LatencyPlot::Create(kPoints, {width, height});
    CHECK(plot.status().code() == StatusCode::kInvalidArgument);
    CHECK(plot.status().message().find(std::to_string(width) + "x" + std::to_string(height)) != std::string::npos);
  }
}

TEST_CASE("RgbCanvas draws text only for known glyphs and clips at the edges", "[latency_plot]") {
  RgbCanvas canvas(40, 10, {255, 255, 255});
  canvas.DrawText(0, 0, "1", 1, {0, 0, 0});
  CHECK(canvas.At(2, 0) == Rgb{0, 0, 0});  // the top of the "1"
  CHECK(canvas.At(0, 0) == Rgb{255, 255, 255});
  RgbCanvas blank(40, 10, {255, 255, 255});
  blank.DrawText(0, 0, "ABC?", 1, {0, 0, 0});
  CHECK(blank.pixels() == RgbCanvas(40, 10, {255, 255, 255}).pixels());
  CHECK(RgbCanvas::TextWidthPx("p50", 2) == (3 * 6 - 1) * 2);
  canvas.DrawLine(-5, -5, 100, 100, 3, {1, 2, 3});  // must not write outside
  CHECK(canvas.At(9, 9) == Rgb{1, 2, 3});
}

}  // namespace
}  // namespace camserve
