#include "client/cli/float_heatmap.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

namespace camserve {
namespace {

float FloatFromLittleEndian(const unsigned char* bytes) {
  const uint32_t bits =
      uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 | uint32_t{bytes[2]} << 16 | uint32_t{bytes[3]} << 24;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// For each output index along one axis: the two source indices and the
// weight of the second, as upsample_bilinear2d(align_corners=False) does.
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

}  // namespace

StatusOr<FloatHeatmap> FloatHeatmapFromProto(const v1::Heatmap& heatmap) {
  if (heatmap.encoding() != v1::HEATMAP_ENCODING_FLOAT32) {
    return InternalError("the server sent a heatmap with encoding " +
                         v1::HeatmapEncoding_Name(heatmap.encoding()) + " instead of FLOAT32");
  }
  if (heatmap.width() < 1 || heatmap.height() < 1) {
    return InternalError("the server sent a heatmap of " + std::to_string(heatmap.width()) + "x" +
                         std::to_string(heatmap.height()) + " pixels");
  }
  const size_t count = static_cast<size_t>(heatmap.width()) * static_cast<size_t>(heatmap.height());
  if (heatmap.data().size() != 4 * count) {
    return InternalError("the server sent " + std::to_string(heatmap.data().size()) + " bytes for a " +
                         std::to_string(heatmap.width()) + "x" + std::to_string(heatmap.height()) +
                         " FLOAT32 heatmap; expected " + std::to_string(4 * count));
  }
  FloatHeatmap decoded;
  decoded.width_px = heatmap.width();
  decoded.height_px = heatmap.height();
  decoded.values.resize(count);
  const auto* bytes = reinterpret_cast<const unsigned char*>(heatmap.data().data());
  for (size_t i = 0; i < count; ++i) decoded.values[i] = FloatFromLittleEndian(bytes + 4 * i);
  return decoded;
}

FloatHeatmap ResizeBilinear(const FloatHeatmap& heatmap, int width_px, int height_px) {
  const std::vector<AxisSample> columns = AxisSamples(heatmap.width_px, width_px);
  const std::vector<AxisSample> rows = AxisSamples(heatmap.height_px, height_px);
  FloatHeatmap resized;
  resized.width_px = width_px;
  resized.height_px = height_px;
  resized.values.reserve(static_cast<size_t>(width_px) * static_cast<size_t>(height_px));
  const auto at = [&heatmap](int row, int column) {
    return heatmap.values[static_cast<size_t>(row) * heatmap.width_px + column];
  };
  for (const AxisSample& row : rows) {
    for (const AxisSample& column : columns) {
      const float top =
          at(row.low, column.low) * (1 - column.high_weight) + at(row.low, column.high) * column.high_weight;
      const float bottom = at(row.high, column.low) * (1 - column.high_weight) +
                           at(row.high, column.high) * column.high_weight;
      resized.values.push_back(top * (1 - row.high_weight) + bottom * row.high_weight);
    }
  }
  return resized;
}

}  // namespace camserve
