// ResizeRgbBilinear: scales 8-bit RGB pixels (to lay an overlay over an image
// at the heatmap's size). Half-pixel centres, no antialiasing: meant for
// display, not for model input (the preprocessor resizes model inputs).
//
// Thread-safety: a pure function.
// Cost: a few multiply-adds per output pixel.
#pragma once

#include "core/image/image_decoder.h"

namespace camserve {

// REQUIRES: image.rgb holds width * height * 3 bytes, both >= 1; width_px and
// height_px >= 1. Returns the image unchanged in size when they match.
DecodedImage ResizeRgbBilinear(const DecodedImage& image, int width_px, int height_px);

}  // namespace camserve
