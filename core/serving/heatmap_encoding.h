// EncodeHeatmap: turns a heatmap into the bytes a client asked for.
//   kFloat32     4 bytes per value, float32 little-endian, row-major, [0, 1]
//   kUint8       round(255 * value), row-major
//   kPngHeatmap  RGB PNG of the jet colormap (core/image/colormap.h)
//   kPngOverlay  RGB PNG: jet colormap blended 50/50 over the image, which
//                is first resized (bilinear) to the heatmap's size
//
// Thread-safety: a pure function.
// Errors: INVALID_ARGUMENT for kPngOverlay without an image (tensor inputs).
// Cost: FLOAT32/UINT8 a copy; PNG a colormap pass and EncodePng
// (core/image/png_encoder.h).
#pragma once

#include <string>

#include "core/engine/explain_types.h"
#include "core/image/image_decoder.h"
#include "core/util/status.h"

namespace camserve {

// The values are stable codes: they are the v1 API's enum values and are
// stored in the heatmap cache (CachedExplanation::encoding, the cache key).
enum class HeatmapEncoding { kFloat32 = 0, kUint8 = 1, kPngHeatmap = 2, kPngOverlay = 3 };

// `image` may be null unless encoding is kPngOverlay.
StatusOr<std::string> EncodeHeatmap(const Heatmap& heatmap, HeatmapEncoding encoding, const DecodedImage* image);

}  // namespace camserve
