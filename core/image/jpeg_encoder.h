// EncodeJpeg: compresses 8-bit RGB pixels into baseline JPEG bytes
// (TurboJPEG, 4:2:0 chroma subsampling, accurate integer DCT). Used by the
// clients to make test inputs, e.g. camserve-bench's pool of distinct images.
//
// Thread-safety: a pure function; call it from any number of threads (each
// call makes and frees its own TurboJPEG handle).
// Errors: INVALID_ARGUMENT, naming the bad value, for a null buffer, a side
// outside [1, 65500] (libjpeg's JPEG_MAX_DIMENSION) or a quality outside
// [1, 100]; INTERNAL if TurboJPEG fails (out of memory), with its message.
// Cost: one libjpeg-turbo pass over the pixels (measured: docs/benchmarks.md,
// "Component costs").
// Lossy: DecodeImage gives back pixels near, not equal to, the input (see
// tests/core/image/jpeg_encoder_test.cc for the bound).
#pragma once

#include <cstdint>
#include <string>

#include "core/util/status.h"

namespace camserve {

// Encodes height rows of width RGB pixels (3 bytes each, row-major, no row
// padding) at `quality` (1 = smallest, 100 = best; libjpeg's scale).
// REQUIRES: rgb points to width * height * 3 bytes.
StatusOr<std::string> EncodeJpeg(const uint8_t* rgb, int width, int height, int quality);

}  // namespace camserve
