#include "client/bench/latency_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/image/png_encoder.h"

namespace camserve {
namespace {

constexpr int kMinWidthPx = 200;
constexpr int kMinHeightPx = 150;
constexpr int kMaxSidePx = 10000;
constexpr int kTargetTicks = 5;
constexpr Rgb kInk = {0, 0, 0};
constexpr Rgb kGrid = {225, 225, 225};
const char kXTitle[] = "throughput (req/s)";
const char kYTitle[] = "latency (ms)";

bool IsDrawable(const LatencyPoint& point) {
  return std::isfinite(point.throughput_rps) && std::isfinite(point.p50_ms) && std::isfinite(point.p99_ms) &&
         point.throughput_rps >= 0 && point.p50_ms >= 0 && point.p99_ms >= 0;
}

std::string TickLabel(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

// Values 0, step, 2 * step, ..., max.
std::vector<double> TickValues(double max, double step) {
  std::vector<double> values;
  for (int i = 0; i * step <= max * (1 + 1e-9); ++i) values.push_back(i * step);
  return values;
}

}  // namespace

StatusOr<LatencyPlot> LatencyPlot::Create(std::vector<LatencyPoint> points, const LatencyPlotOptions& options) {
  if (options.width_px < kMinWidthPx || options.height_px < kMinHeightPx || options.width_px > kMaxSidePx ||
      options.height_px > kMaxSidePx) {
    return InvalidArgumentError("plot size must be from " + std::to_string(kMinWidthPx) + "x" +
                                std::to_string(kMinHeightPx) + " to " + std::to_string(kMaxSidePx) + "x" +
                                std::to_string(kMaxSidePx) + " pixels; was " + std::to_string(options.width_px) + "x" +
                                std::to_string(options.height_px));
  }
  points.erase(
      std::remove_if(points.begin(), points.end(), [](const LatencyPoint& point) { return !IsDrawable(point); }),
      points.end());
  return LatencyPlot(std::move(points), options);
}

// An axis from 0 to a round value a little above `largest`, with about
// kTargetTicks ticks at 1, 2 or 5 times a power of ten.
LatencyPlot::Axis LatencyPlot::MakeAxis(double largest) {
  Axis axis;
  const double top = largest > 0 ? largest * 1.05 : 1;
  const double raw_step = top / kTargetTicks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  const double normalized = raw_step / magnitude;
  axis.step = (normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10) * magnitude;
  axis.max = std::ceil(top / axis.step - 1e-9) * axis.step;
  axis.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(axis.step) + 1e-9)));
  return axis;
}

LatencyPlot::LatencyPlot(std::vector<LatencyPoint> points, const LatencyPlotOptions& options)
    : points_(std::move(points)), options_(options) {
  double max_throughput = 0, max_latency = 0;
  for (const LatencyPoint& point : points_) {
    max_throughput = std::max(max_throughput, point.throughput_rps);
    max_latency = std::max({max_latency, point.p50_ms, point.p99_ms});
  }
  x_axis_ = MakeAxis(max_throughput);
  y_axis_ = MakeAxis(max_latency);

  scale_ = options.width_px >= 600 && options.height_px >= 400 ? 2 : 1;
  const int pad = 6 * scale_, tick = 4 * scale_, text_height = RgbCanvas::kGlyphHeightPx * scale_;
  const int y_label_width = RgbCanvas::TextWidthPx(TickLabel(y_axis_.max, y_axis_.decimals), scale_);
  const int x_label_width = RgbCanvas::TextWidthPx(TickLabel(x_axis_.max, x_axis_.decimals), scale_);
  left_ = pad + y_label_width + tick + pad;
  right_ = options.width_px - 1 - std::max(pad, x_label_width / 2 + pad);
  top_ = pad + text_height + 2 * pad;
  bottom_ = options.height_px - 1 - (tick + pad + text_height + pad + text_height + pad);
}

std::pair<int, int> LatencyPlot::PixelOf(double throughput_rps, double latency_ms) const {
  const double x = left_ + throughput_rps / x_axis_.max * (right_ - left_);
  const double y = bottom_ - latency_ms / y_axis_.max * (bottom_ - top_);
  return {static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y))};
}

void LatencyPlot::DrawAxes(RgbCanvas* canvas) const {
  const int tick = 4 * scale_, pad = 6 * scale_, text_height = RgbCanvas::kGlyphHeightPx * scale_;
  for (double value : TickValues(x_axis_.max, x_axis_.step)) {
    const int x = PixelOf(value, 0).first;
    canvas->DrawLine(x, top_, x, bottom_, 1, kGrid);
    canvas->DrawLine(x, bottom_, x, bottom_ + tick, scale_, kInk);
    const std::string label = TickLabel(value, x_axis_.decimals);
    canvas->DrawText(x - RgbCanvas::TextWidthPx(label, scale_) / 2, bottom_ + tick + pad / 2, label, scale_, kInk);
  }
  for (double value : TickValues(y_axis_.max, y_axis_.step)) {
    const int y = PixelOf(0, value).second;
    canvas->DrawLine(left_, y, right_, y, 1, kGrid);
    canvas->DrawLine(left_ - tick, y, left_, y, scale_, kInk);
    const std::string label = TickLabel(value, y_axis_.decimals);
    canvas->DrawText(left_ - tick - pad / 2 - RgbCanvas::TextWidthPx(label, scale_), y - text_height / 2, label, scale_,
                     kInk);
  }
  canvas->DrawLine(left_, top_, left_, bottom_, scale_, kInk);
  canvas->DrawLine(left_, bottom_, right_, bottom_, scale_, kInk);
  canvas->DrawText(pad, pad, kYTitle, scale_, kInk);
  canvas->DrawText((left_ + right_ - RgbCanvas::TextWidthPx(kXTitle, scale_)) / 2,
                   options_.height_px - pad - text_height, kXTitle, scale_, kInk);
}

void LatencyPlot::DrawSeries(RgbCanvas* canvas, double LatencyPoint::*latency_ms, Rgb color) const {
  const int marker = 3 * scale_;
  for (size_t i = 0; i < points_.size(); ++i) {
    const auto [x, y] = PixelOf(points_[i].throughput_rps, points_[i].*latency_ms);
    canvas->FillRect(x - marker, y - marker, x + marker, y + marker, color);
    if (i == 0) continue;
    const auto [previous_x, previous_y] = PixelOf(points_[i - 1].throughput_rps, points_[i - 1].*latency_ms);
    canvas->DrawLine(previous_x, previous_y, x, y, scale_, color);
  }
}

// "-- p50  -- p99" in the top right corner, above the plot area.
void LatencyPlot::DrawLegend(RgbCanvas* canvas) const {
  const int pad = 6 * scale_, swatch = 12 * scale_, text_height = RgbCanvas::kGlyphHeightPx * scale_;
  const int entry_width = swatch + scale_ * 3 + RgbCanvas::TextWidthPx("p50", scale_) + 2 * pad;
  int x = options_.width_px - pad - 2 * entry_width;
  for (const auto& [label, color] : {std::pair{"p50", kP50Color}, std::pair{"p99", kP99Color}}) {
    canvas->FillRect(x, pad + text_height / 2 - scale_, x + swatch, pad + text_height / 2 + scale_, color);
    canvas->DrawText(x + swatch + 3 * scale_, pad, label, scale_, kInk);
    x += entry_width;
  }
}

RgbCanvas LatencyPlot::Render() const {
  RgbCanvas canvas(options_.width_px, options_.height_px, kBackground);
  DrawAxes(&canvas);
  DrawSeries(&canvas, &LatencyPoint::p99_ms, kP99Color);
  DrawSeries(&canvas, &LatencyPoint::p50_ms, kP50Color);
  DrawLegend(&canvas);
  return canvas;
}

StatusOr<std::string> LatencyPlot::EncodePng() const {
  const RgbCanvas canvas = Render();
  return camserve::EncodePng(canvas.pixels().data(), canvas.width_px(), canvas.height_px(), 3);
}

}  // namespace camserve
