#include "core/image/separable_resample.h"

#include <cmath>
#include <cstdint>

namespace camserve {
namespace {

AxisWeights SizedFor(int target_size, int taps) {
  AxisWeights weights;
  weights.taps = taps;
  weights.first.resize(target_size);
  weights.count.resize(target_size);
  weights.weights.assign(static_cast<size_t>(target_size) * taps, 0.f);
  return weights;
}

// PyTorch skips the arithmetic when sizes match; one tap of weight 1 gives
// the same bits.
AxisWeights Identity(int size) {
  AxisWeights weights = SizedFor(size, 1);
  for (int i = 0; i < size; ++i) {
    weights.first[i] = i;
    weights.count[i] = 1;
    weights.weights[i] = 1.f;
  }
  return weights;
}

// PIL's and PyTorch's bilinear (triangle) filter.
float Triangle(float x) {
  x = std::fabs(x);
  return x < 1.f ? 1.f - x : 0.f;
}

}  // namespace

AxisWeights BilinearAxisWeights(int source_size, int target_size) {
  if (source_size == target_size) return Identity(target_size);
  AxisWeights weights = SizedFor(target_size, 2);
  // Scale in float, position in double rounded once to float: the types of
  // area_pixel_compute_scale<float> / area_pixel_compute_source_index<float>.
  const float scale = static_cast<float>(source_size) / static_cast<float>(target_size);
  for (int i = 0; i < target_size; ++i) {
    const float position = std::max(static_cast<float>(scale * (i + 0.5) - 0.5), 0.f);
    const int low = std::min(static_cast<int>(position), source_size - 1);
    const float high_weight = position - static_cast<float>(low);
    weights.first[i] = low;
    float* w = &weights.weights[static_cast<size_t>(i) * 2];
    if (low < source_size - 1) {
      weights.count[i] = 2;
      w[0] = 1.f - high_weight;
      w[1] = high_weight;
    } else {
      // Past the last centre PyTorch blends the last sample with itself;
      // taking it once is the same up to rounding.
      weights.count[i] = 1;
      w[0] = 1.f;
    }
  }
  return weights;
}

AxisWeights AntialiasedBilinearAxisWeights(int source_size, int target_size) {
  if (source_size == target_size) return Identity(target_size);
  // The types follow HelperInterpBase::_compute_weights_aa for float: float
  // variables, some intermediate sums in double.
  const float scale = static_cast<float>(source_size) / static_cast<float>(target_size);
  const float support = scale >= 1.f ? scale : 1.f;
  const float inverse_scale = scale >= 1.f ? static_cast<float>(1.0 / scale) : 1.f;
  AxisWeights weights = SizedFor(target_size, static_cast<int>(std::ceil(support)) * 2 + 1);
  for (int i = 0; i < target_size; ++i) {
    const float center = static_cast<float>(scale * (i + 0.5));
    // Truncation towards zero, as PIL's and PyTorch's bounds do.
    const int64_t first = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t end = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), source_size);
    float* w = &weights.weights[static_cast<size_t>(i) * weights.taps];
    float total = 0.f;
    for (int64_t j = first; j < end; ++j) {
      w[j - first] = Triangle(static_cast<float>((static_cast<float>(j) - center + 0.5) * inverse_scale));
      total += w[j - first];
    }
    if (total != 0.f) {
      for (int64_t j = first; j < end; ++j) w[j - first] /= total;
    }
    weights.first[i] = static_cast<int>(first);
    weights.count[i] = static_cast<int>(end - first);
  }
  return weights;
}

}  // namespace camserve
