// EncodePng: compresses 8-bit pixels (heatmaps, overlays) into PNG bytes for
// the RPC response.
//
// Thread-safety: a pure function; call it from any number of threads.
// Errors: INVALID_ARGUMENT for a null buffer, a side < 1 or > 1,000,000
// (libpng's limit), or channels not in {1, 3, 4}; INTERNAL if libpng fails
// (out of memory).
// Cost: the server encodes per request, so zlib runs at its fastest level
// (Z_BEST_SPEED) with only the SUB filter: one filtering and one deflate pass
// over the pixels (times, sizes and the comparison with libpng's default
// filtering: docs/benchmarks.md, "Component costs"). Lossless: the result
// decodes to exactly the input pixels.
#pragma once

#include <cstdint>
#include <string>

#include "core/util/status.h"

namespace camserve {

// Encodes height rows of width pixels, row-major, channels interleaved bytes
// per pixel, no row padding: 1 = gray, 3 = RGB, 4 = RGBA. 8 bits per sample.
// REQUIRES: pixels points to width * height * channels bytes.
StatusOr<std::string> EncodePng(const uint8_t* pixels, int width, int height, int channels);

}  // namespace camserve
