// Heatmap colouring: values in [0, 1] -> OpenCV's COLORMAP_JET, and the alpha
// blend of a coloured heatmap over the input image.
//
// Thread-safety: pure functions; call them from any number of threads.
// Errors: none; out-of-range inputs are clamped as documented per function.
// Cost: one table lookup (ApplyJetColormap) or a few multiply-adds
// (BlendOverlay) per pixel; 224x224 takes well under a millisecond.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace camserve {

// Returns count RGB triplets (3 * count bytes): values[i] is clamped to
// [0, 1] (NaN counts as 0), scaled to an index round(v * 255), and looked up
// in OpenCV's COLORMAP_JET table, so the colours equal
// cv2.applyColorMap(index, cv2.COLORMAP_JET) with BGR swapped to RGB.
// 0 is dark blue (0, 0, 128), 1 is dark red (128, 0, 0).
// Note: pytorch-grad-cam's show_cam_on_image builds the index with
// np.uint8(255 * mask), which truncates instead of rounding.
// REQUIRES: values points to count floats (may be null if count == 0).
std::vector<uint8_t> ApplyJetColormap(const float* values, size_t count);

// Returns pixel_count RGB triplets
//   round(heat_weight * heat + (1 - heat_weight) * image)
// per channel. heat_weight is clamped to [0, 1] (NaN counts as 0).
// REQUIRES: heat_rgb and image_rgb each point to 3 * pixel_count bytes.
std::vector<uint8_t> BlendOverlay(const uint8_t* heat_rgb, const uint8_t* image_rgb, size_t pixel_count,
                                  float heat_weight);

}  // namespace camserve
