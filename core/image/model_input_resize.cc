#include "core/image/model_input_resize.h"

#include <cstddef>
#include <cstdint>

#include "core/image/separable_resample.h"

namespace camserve {
namespace {

// torchvision's order of operations (scale, subtract, divide), so that the
// same-size path repeats torch's arithmetic; resizing before the division by
// 255 instead of after it changes the result by float rounding only.
float Normalize(float sample, float mean, float std) { return (sample / 255.f - mean) / std; }

}  // namespace

std::vector<float> ResizeToModelInput(const DecodedImage& image, int out_width, int out_height,
                                      const std::array<float, 3>& mean, const std::array<float, 3>& std) {
  const size_t plane = static_cast<size_t>(out_width) * out_height;
  std::vector<float> out(3 * plane);
  if (image.width == out_width && image.height == out_height) {
    const uint8_t* rgb = image.rgb.data();
    for (size_t i = 0; i < plane; ++i) {
      for (size_t c = 0; c < 3; ++c) out[c * plane + i] = Normalize(rgb[3 * i + c], mean[c], std[c]);
    }
    return out;
  }
  // torchvision picks the antialiased kernel for both sides as soon as one
  // side shrinks.
  const bool shrinking = out_width < image.width || out_height < image.height;
  const auto axis_weights = shrinking ? AntialiasedBilinearAxisWeights : BilinearAxisWeights;
  ResampleSeparable<3>(image.rgb.data(), image.width, axis_weights(image.width, out_width),
                       axis_weights(image.height, out_height), [&](int y, const float* row) {
                         // Interleaved RGB row to three planes, normalised.
                         for (size_t c = 0; c < 3; ++c) {
                           float* plane_row = &out[c * plane + static_cast<size_t>(y) * out_width];
                           for (int x = 0; x < out_width; ++x) {
                             plane_row[x] = Normalize(row[3 * x + c], mean[c], std[c]);
                           }
                         }
                       });
  return out;
}

}  // namespace camserve
