// FloatHeatmap: a heatmap as camserve-client handles it, decoded from an
// ExplainResponse's FLOAT32 heatmap, and its bilinear resize to an image's
// size for the overlay.
//
// Thread-safety: values and pure functions; call them from any number of
// threads.
// Errors: FloatHeatmapFromProto returns INTERNAL for a response that breaks
// the API's contract (another encoding, sides < 1, a data size that is not
// width * height * 4 bytes); the message says which.
// Cost: one pass over the values.
#pragma once

#include <vector>

#include "camserve/v1/explainer.pb.h"
#include "core/engine/explain_types.h"
#include "core/util/status.h"

namespace camserve {

// The engine's plain heatmap type (row-major, width_px x height_px, [0, 1]).
using FloatHeatmap = Heatmap;

// Decodes a HEATMAP_ENCODING_FLOAT32 heatmap (little-endian float32).
StatusOr<FloatHeatmap> FloatHeatmapFromProto(const v1::Heatmap& heatmap);

// Resamples to width_px x height_px like PyTorch's
// upsample_bilinear2d(align_corners=False), which the engine uses for its
// INPUT and ORIGINAL resolutions (core/image/bilinear_resize.h).
// REQUIRES: heatmap has sides >= 1; width_px >= 1, height_px >= 1.
FloatHeatmap ResizeBilinear(const FloatHeatmap& heatmap, int width_px, int height_px);

}  // namespace camserve
