#include "core/image/bilinear_resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/image/separable_resample.h"

namespace camserve {

std::vector<float> ResizeBilinear(const std::vector<float>& values, int width, int height, int out_width,
                                  int out_height) {
  std::vector<float> out;
  out.reserve(static_cast<size_t>(out_width) * out_height);
  ResampleSeparable<1>(values.data(), width, BilinearAxisWeights(width, out_width),
                       BilinearAxisWeights(height, out_height),
                       [&](int, const float* row) { out.insert(out.end(), row, row + out_width); });
  return out;
}

DecodedImage ResizeRgbBilinear(const DecodedImage& image, int out_width, int out_height) {
  if (image.width == out_width && image.height == out_height) return image;
  DecodedImage out;
  out.width = out_width;
  out.height = out_height;
  out.rgb.reserve(static_cast<size_t>(out_width) * out_height * 3);
  ResampleSeparable<3>(image.rgb.data(), image.width, BilinearAxisWeights(image.width, out_width),
                       BilinearAxisWeights(image.height, out_height), [&](int, const float* row) {
                         for (int i = 0; i < out_width * 3; ++i) {
                           out.rgb.push_back(static_cast<uint8_t>(std::lround(std::clamp(row[i], 0.f, 255.f))));
                         }
                       });
  return out;
}

}  // namespace camserve
