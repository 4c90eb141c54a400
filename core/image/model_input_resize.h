// ResizeToModelInput: turns 8-bit RGB pixels into a model's input, float32
// planes (CHW) at the model's size, normalised per channel, the way
// torchvision's ToTensor + Resize(antialias=True) + Normalize do it with
// PyTorch 1.13 on the CPU:
//   x / 255, resized with _upsample_bilinear2d_aa when either side shrinks
//   (antialiased triangle filter; a side that grows gets plain bilinear
//   weights from the same filter), with upsample_bilinear2d when neither does
//   (half-pixel centres, clamped edges), both with align_corners=False, then
//   (x - mean) / std.
// Results equal LibTorch's to float rounding: within 1e-5 after normalising
// with the ImageNet statistics (tests/core/engine/preprocessor_test.cc
// compares them over shrinks, growths, mixed and one-pixel sizes). An image
// already at the model's size is only normalised.
//
// Thread-safety: a pure function without shared state and without LibTorch:
// call it from any thread, at any concurrency; it starts no threads.
// Cost: one separable resample (see separable_resample.h): when shrinking,
// about two multiply-adds per source sample and channel in the row pass
// (each output sums about 2 * scale samples), then a smaller column pass;
// docs/benchmarks.md ("Component costs") has timings. Memory: the output and
// one float buffer of (source height) * out_width * 3.
#pragma once

#include <array>
#include <vector>

#include "core/image/image_decoder.h"

namespace camserve {

// Returns 3 * out_height * out_width floats: the R plane, then G, then B,
// each row-major. `mean` and `std` are per channel (R, G, B) in [0, 1] pixel
// units.
// REQUIRES: image.rgb holds width * height * 3 bytes; all sides >= 1; no
// std is 0.
std::vector<float> ResizeToModelInput(const DecodedImage& image, int out_width, int out_height,
                                      const std::array<float, 3>& mean, const std::array<float, 3>& std);

}  // namespace camserve
