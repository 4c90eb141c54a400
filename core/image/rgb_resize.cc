#include "core/image/rgb_resize.h"

#include <algorithm>
#include <cmath>

namespace camserve {
namespace {

// Source coordinate of output index `i` (half-pixel centres), clamped.
void SourceSpan(int i, double scale, int source_size, int* low, int* high, float* weight_high) {
  const double x = std::clamp((i + 0.5) * scale - 0.5, 0.0, static_cast<double>(source_size - 1));
  *low = static_cast<int>(std::floor(x));
  *high = std::min(*low + 1, source_size - 1);
  *weight_high = static_cast<float>(x - *low);
}

}  // namespace

DecodedImage ResizeRgbBilinear(const DecodedImage& image, int width_px, int height_px) {
  if (image.width == width_px && image.height == height_px) return image;
  DecodedImage out;
  out.width = width_px;
  out.height = height_px;
  out.rgb.resize(static_cast<size_t>(width_px) * height_px * 3);
  const double scale_x = static_cast<double>(image.width) / width_px;
  const double scale_y = static_cast<double>(image.height) / height_px;
  for (int y = 0; y < height_px; ++y) {
    int y0, y1;
    float wy;
    SourceSpan(y, scale_y, image.height, &y0, &y1, &wy);
    for (int x = 0; x < width_px; ++x) {
      int x0, x1;
      float wx;
      SourceSpan(x, scale_x, image.width, &x0, &x1, &wx);
      for (int c = 0; c < 3; ++c) {
        auto at = [&](int yy, int xx) { return static_cast<float>(image.rgb[(static_cast<size_t>(yy) * image.width + xx) * 3 + c]); };
        const float top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx;
        const float bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx;
        out.rgb[(static_cast<size_t>(y) * width_px + x) * 3 + c] =
            static_cast<uint8_t>(std::lround(top * (1 - wy) + bottom * wy));
      }
    }
  }
  return out;
}

}  // namespace camserve
