#include "core/image/heatmap_png.h"

#include "core/image/colormap.h"
#include "core/image/png_encoder.h"

namespace camserve {

StatusOr<std::string> EncodeJetPng(const std::vector<float>& values, int width_px, int height_px) {
  const std::vector<uint8_t> colored = ApplyJetColormap(values.data(), values.size());
  return EncodePng(colored.data(), width_px, height_px, 3);
}

StatusOr<std::string> EncodeJetOverlayPng(const std::vector<float>& values, const uint8_t* image_rgb, int width_px,
                                          int height_px) {
  const std::vector<uint8_t> colored = ApplyJetColormap(values.data(), values.size());
  const std::vector<uint8_t> overlay = BlendOverlay(colored.data(), image_rgb, values.size(), kOverlayHeatWeight);
  return EncodePng(overlay.data(), width_px, height_px, 3);
}

}  // namespace camserve
