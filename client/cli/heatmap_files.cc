#include "client/cli/heatmap_files.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "client/cli/npy_writer.h"
#include "core/image/colormap.h"
#include "core/image/png_encoder.h"
#include "core/util/file_io.h"

namespace camserve {
namespace {

// BlendOverlay's weight of the heatmap, as camserve-explain uses.
constexpr float kOverlayHeatWeight = 0.5f;

std::string OutputStem(const std::string& image_path) {
  return std::filesystem::path(image_path).stem().string();
}

Status WriteRgbPng(const std::string& path, const std::vector<uint8_t>& rgb, int width_px, int height_px) {
  StatusOr<std::string> png = EncodePng(rgb.data(), width_px, height_px, 3);
  if (!png.ok()) return png.status();
  return WriteFileBytes(path, *png);
}

// The jet colours of `heatmap`, resampled to width_px x height_px first if
// its size differs.
std::vector<uint8_t> JetColorsAtSize(const FloatHeatmap& heatmap, int width_px, int height_px) {
  if (heatmap.width_px == width_px && heatmap.height_px == height_px) {
    return ApplyJetColormap(heatmap.values.data(), heatmap.values.size());
  }
  const FloatHeatmap resized = ResizeBilinear(heatmap, width_px, height_px);
  return ApplyJetColormap(resized.values.data(), resized.values.size());
}

}  // namespace

HeatmapFiles HeatmapFilesFor(const std::string& out_dir, const std::string& image_path) {
  const std::filesystem::path base = std::filesystem::path(out_dir) / OutputStem(image_path);
  return {base.string() + ".heatmap.png", base.string() + ".overlay.png", base.string() + ".npy"};
}

Status CheckDistinctOutputNames(const std::vector<std::string>& image_paths) {
  std::map<std::string, const std::string*> first_by_stem;
  for (const std::string& path : image_paths) {
    const auto [it, inserted] = first_by_stem.emplace(OutputStem(path), &path);
    if (!inserted) {
      return InvalidArgumentError(*it->second + " and " + path + " would both write " + it->first +
                                  ".*; explain them in separate runs or rename one");
    }
  }
  return Status::Ok();
}

Status WriteHeatmapFiles(const FloatHeatmap& heatmap, const DecodedImage& image, const HeatmapFiles& files) {
  const std::vector<uint8_t> heat_rgb = JetColorsAtSize(heatmap, heatmap.width_px, heatmap.height_px);
  CAMSERVE_RETURN_IF_ERROR(WriteRgbPng(files.heatmap_png, heat_rgb, heatmap.width_px, heatmap.height_px));
  const std::vector<uint8_t> image_heat_rgb = JetColorsAtSize(heatmap, image.width, image.height);
  const std::vector<uint8_t> overlay =
      BlendOverlay(image_heat_rgb.data(), image.rgb.data(), image_heat_rgb.size() / 3, kOverlayHeatWeight);
  CAMSERVE_RETURN_IF_ERROR(WriteRgbPng(files.overlay_png, overlay, image.width, image.height));
  return WriteFileBytes(files.npy, EncodeNpyFloat32(heatmap.values.data(), heatmap.height_px, heatmap.width_px));
}

}  // namespace camserve
