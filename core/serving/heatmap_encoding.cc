#include "core/serving/heatmap_encoding.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/image/bilinear_resize.h"
#include "core/image/heatmap_png.h"

namespace camserve {
namespace {

std::string Float32LittleEndian(const std::vector<float>& values) {
  static_assert(sizeof(float) == 4, "float32 expected");
  std::string bytes(values.size() * 4, '\0');
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  std::memcpy(bytes.data(), values.data(), bytes.size());
#else
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], 4);
    for (int b = 0; b < 4; ++b) bytes[i * 4 + b] = static_cast<char>(bits >> (8 * b));
  }
#endif
  return bytes;
}

std::string Uint8Values(const std::vector<float>& values) {
  std::string bytes(values.size(), '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    const float v = std::isnan(values[i]) ? 0.f : std::clamp(values[i], 0.f, 1.f);
    bytes[i] = static_cast<char>(static_cast<uint8_t>(std::lround(255.f * v)));
  }
  return bytes;
}

}  // namespace

StatusOr<std::string> EncodeHeatmap(const Heatmap& heatmap, HeatmapEncoding encoding, const DecodedImage* image) {
  switch (encoding) {
    case HeatmapEncoding::kFloat32: return Float32LittleEndian(heatmap.values);
    case HeatmapEncoding::kUint8: return Uint8Values(heatmap.values);
    case HeatmapEncoding::kPngHeatmap: return EncodeJetPng(heatmap.values, heatmap.width_px, heatmap.height_px);
    case HeatmapEncoding::kPngOverlay: {
      if (image == nullptr) {
        return InvalidArgumentError("encoding PNG_OVERLAY needs an image input; a tensor has no pixels to overlay");
      }
      const DecodedImage background = ResizeRgbBilinear(*image, heatmap.width_px, heatmap.height_px);
      return EncodeJetOverlayPng(heatmap.values, background.rgb.data(), heatmap.width_px, heatmap.height_px);
    }
  }
  return InvalidArgumentError("unknown heatmap encoding");
}

}  // namespace camserve
