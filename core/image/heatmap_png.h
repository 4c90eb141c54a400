// Heatmap pictures as PNG, the one way camserve draws them (server
// encodings, camserve-client's files, camserve-explain): values in [0, 1]
// through the jet colormap (colormap.h), alone or blended over an image of
// the same size.
//
// Thread-safety: pure functions.
// Errors: as EncodePng (INVALID_ARGUMENT for sides < 1).
// Cost: a table lookup and a blend per pixel plus EncodePng (measured:
// docs/benchmarks.md, "Component costs").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/util/status.h"

namespace camserve {

// The heatmap's weight in every overlay camserve draws.
inline constexpr float kOverlayHeatWeight = 0.5f;

// REQUIRES: values.size() == width_px * height_px.
StatusOr<std::string> EncodeJetPng(const std::vector<float>& values, int width_px, int height_px);

// The jet colours blended over `image_rgb` (kOverlayHeatWeight), RGB PNG.
// REQUIRES: values.size() == width_px * height_px; image_rgb holds
// width_px * height_px * 3 bytes.
StatusOr<std::string> EncodeJetOverlayPng(const std::vector<float>& values, const uint8_t* image_rgb, int width_px,
                                          int height_px);

}  // namespace camserve
