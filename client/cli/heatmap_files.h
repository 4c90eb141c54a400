// The files camserve-client writes for each explained image, in the output
// folder and named after the image's file name without its extension (STEM):
//   STEM.heatmap.png  the heatmap at the resolution the server returned, in
//                     the jet colormap (ApplyJetColormap), RGB
//   STEM.overlay.png  the jet heatmap blended half and half over the image
//                     (BlendOverlay), at the image's own size; a heatmap of
//                     another size (INPUT or FEATURE resolution) is first
//                     resized bilinearly to the image's size
//   STEM.npy          the raw float32 heatmap, shape (height, width)
//
// Thread-safety: free functions; concurrent calls must write different files.
// Errors: INVALID_ARGUMENT when two images would write the same files;
// FAILED_PRECONDITION when a file cannot be written (the message names it).
// Cost: the colormap, a blend and two PNG encodings of the image's size (a
// few ms for a 224x224 image), plus the file writes.
#pragma once

#include <string>
#include <vector>

#include "client/cli/float_heatmap.h"
#include "core/image/image_decoder.h"
#include "core/util/status.h"

namespace camserve {

struct HeatmapFiles {
  std::string heatmap_png;
  std::string overlay_png;
  std::string npy;
};

// The paths for `image_path`'s outputs in `out_dir`.
HeatmapFiles HeatmapFilesFor(const std::string& out_dir, const std::string& image_path);

// OK unless two of `image_paths` share a STEM ("a.png" and "b/a.jpg"), which
// would make the second overwrite the first one's outputs.
Status CheckDistinctOutputNames(const std::vector<std::string>& image_paths);

// Writes the three files for `heatmap`, explained on `image`.
// REQUIRES: heatmap and image have sides >= 1.
Status WriteHeatmapFiles(const FloatHeatmap& heatmap, const DecodedImage& image, const HeatmapFiles& files);

}  // namespace camserve
