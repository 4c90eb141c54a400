// Bilinear resampling like PyTorch's upsample_bilinear2d(align_corners=False):
// half-pixel centres, source coordinates clamped to the edges, no
// antialiasing when shrinking. For display: heatmaps laid over images, images
// scaled under overlays. (Model inputs are resized by model_input_resize.h,
// which antialiases when shrinking, like torchvision.) Both are built on
// separable_resample.h.
//
// Thread-safety: pure functions.
// Cost: a few multiply-adds per output sample, plus one float buffer of
// (source height) * out_width * channels.
#pragma once

#include <vector>

#include "core/image/image_decoder.h"

namespace camserve {

// `values`: height rows of width samples, row-major, one channel.
// REQUIRES: values.size() == width * height; all sides >= 1.
std::vector<float> ResizeBilinear(const std::vector<float>& values, int width, int height, int out_width,
                                  int out_height);

// 8-bit RGB, each channel resampled as above and rounded to nearest.
// REQUIRES: image.rgb holds width * height * 3 bytes; all sides >= 1.
DecodedImage ResizeRgbBilinear(const DecodedImage& image, int out_width, int out_height);

}  // namespace camserve
