// LatencyPlot: the chart camserve-bench writes with --plot: client-side p50
// and p99 latency (ms, y axis) against throughput (req/s, x axis), one point
// per load level, joined in the order the levels ran. Both axes start at 0
// and end at a round value above the largest point, with round ticks,
// numeric tick labels, light grid lines and a legend. Levels without an OK
// answer (NaN statistics) are left out.
//
// Thread-safety: a value; const methods may run concurrently.
// Errors: Create returns INVALID_ARGUMENT for a size below 200x150 or above
// 10000x10000 pixels; EncodePng fails only as core/image/png_encoder.h says.
// Cost: rendering touches each pixel a few times; 800x500 renders and
// encodes in a few milliseconds.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "client/bench/rgb_canvas.h"
#include "core/util/status.h"

namespace camserve {

struct LatencyPoint {
  double throughput_rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

struct LatencyPlotOptions {
  // Image size in pixels. Text is drawn twice as large from 600x400 up.
  // Default: 800x500.
  int width_px = 800;
  int height_px = 500;
};

class LatencyPlot {
 public:
  static constexpr Rgb kBackground = {255, 255, 255};
  static constexpr Rgb kP50Color = {31, 119, 180};
  static constexpr Rgb kP99Color = {214, 39, 40};

  static StatusOr<LatencyPlot> Create(std::vector<LatencyPoint> points, const LatencyPlotOptions& options);

  // The pixel (x from the left, y from the top) where a point with this
  // throughput and latency is drawn.
  std::pair<int, int> PixelOf(double throughput_rps, double latency_ms) const;

  RgbCanvas Render() const;
  // Render() as an RGB PNG.
  StatusOr<std::string> EncodePng() const;

  // -- implementation details follow ---------------------------------------
 private:
  // One axis from 0 to `max` with a tick every `step`.
  struct Axis {
    double max = 1;
    double step = 1;
    int decimals = 0;
  };

  LatencyPlot(std::vector<LatencyPoint> points, const LatencyPlotOptions& options);
  static Axis MakeAxis(double largest);

  void DrawAxes(RgbCanvas* canvas) const;
  void DrawSeries(RgbCanvas* canvas, double LatencyPoint::*latency_ms, Rgb color) const;
  void DrawLegend(RgbCanvas* canvas) const;

  std::vector<LatencyPoint> points_;
  LatencyPlotOptions options_;
  int scale_ = 1;
  Axis x_axis_;
  Axis y_axis_;
  // The plot area, pixels: x in [left_, right_], y in [top_, bottom_].
  int left_ = 0, right_ = 0, top_ = 0, bottom_ = 0;
};

}  // namespace camserve
