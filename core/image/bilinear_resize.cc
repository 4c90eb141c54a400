#include "core/image/bilinear_resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace camserve {
namespace {

// For one output index along an axis: the two source indices and the weight
// of the second, as upsample_bilinear2d(align_corners=False) computes them.
struct AxisSample {
  int low = 0;
  int high = 0;
  float high_weight = 0;
};

std::vector<AxisSample> AxisSamples(int source_size, int target_size) {
  const float scale = static_cast<float>(source_size) / static_cast<float>(target_size);
  std::vector<AxisSample> samples(target_size);
  for (int i = 0; i < target_size; ++i) {
    const float source = std::max(scale * (static_cast<float>(i) + 0.5f) - 0.5f, 0.0f);
    AxisSample& sample = samples[i];
    sample.low = std::min(static_cast<int>(source), source_size - 1);
    sample.high = std::min(sample.low + 1, source_size - 1);
    sample.high_weight = source - static_cast<float>(sample.low);
  }
  return samples;
}

// Resamples interleaved `channels` samples per pixel; `store` converts each
// interpolated float to the output type.
template <typename In, typename Out, typename Store>
std::vector<Out> Resample(const In* source, int width, int height, int channels, int out_width, int out_height,
                          Store store) {
  const std::vector<AxisSample> columns = AxisSamples(width, out_width);
  const std::vector<AxisSample> rows = AxisSamples(height, out_height);
  std::vector<Out> out;
  out.reserve(static_cast<size_t>(out_width) * out_height * channels);
  const auto at = [&](int row, int column, int channel) {
    return static_cast<float>(source[(static_cast<size_t>(row) * width + column) * channels + channel]);
  };
  for (const AxisSample& row : rows) {
    for (const AxisSample& column : columns) {
      for (int c = 0; c < channels; ++c) {
        const float top =
            at(row.low, column.low, c) * (1 - column.high_weight) + at(row.low, column.high, c) * column.high_weight;
        const float bottom =
            at(row.high, column.low, c) * (1 - column.high_weight) + at(row.high, column.high, c) * column.high_weight;
        out.push_back(store(top * (1 - row.high_weight) + bottom * row.high_weight));
      }
    }
  }
  return out;
}

}  // namespace

std::vector<float> ResizeBilinear(const std::vector<float>& values, int width, int height, int out_width,
                                  int out_height) {
  return Resample<float, float>(values.data(), width, height, 1, out_width, out_height, [](float v) { return v; });
}

DecodedImage ResizeRgbBilinear(const DecodedImage& image, int out_width, int out_height) {
  if (image.width == out_width && image.height == out_height) return image;
  DecodedImage out;
  out.width = out_width;
  out.height = out_height;
  out.rgb =
      Resample<uint8_t, uint8_t>(image.rgb.data(), image.width, image.height, 3, out_width, out_height,
                                 [](float v) { return static_cast<uint8_t>(std::lround(std::clamp(v, 0.f, 255.f))); });
  return out;
}

}  // namespace camserve
