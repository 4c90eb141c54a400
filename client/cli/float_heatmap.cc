#include "client/cli/float_heatmap.h"

#include "core/image/bilinear_resize.h"

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

}  // namespace

StatusOr<FloatHeatmap> FloatHeatmapFromProto(const v1::Heatmap& heatmap) {
  if (heatmap.encoding() != v1::HEATMAP_ENCODING_FLOAT32) {
    return InternalError("the server sent a heatmap with encoding " + v1::HeatmapEncoding_Name(heatmap.encoding()) +
                         " instead of FLOAT32");
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
  FloatHeatmap resized;
  resized.width_px = width_px;
  resized.height_px = height_px;
  resized.values = ResizeBilinear(heatmap.values, heatmap.width_px, heatmap.height_px, width_px, height_px);
  return resized;
}

}  // namespace camserve
