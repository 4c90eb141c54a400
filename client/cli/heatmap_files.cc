#include "client/cli/heatmap_files.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "client/cli/npy_writer.h"
#include "core/image/heatmap_png.h"
#include "core/util/file_io.h"

namespace camserve {
namespace {

std::string OutputStem(const std::string& image_path) { return std::filesystem::path(image_path).stem().string(); }

Status WritePng(const std::string& path, const StatusOr<std::string>& png) {
  if (!png.ok()) return png.status();
  return WriteFileBytes(path, *png);
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
  CAMSERVE_RETURN_IF_ERROR(
      WritePng(files.heatmap_png, EncodeJetPng(heatmap.values, heatmap.width_px, heatmap.height_px)));
  // The overlay is drawn at the image's size.
  const FloatHeatmap at_image_size = heatmap.width_px == image.width && heatmap.height_px == image.height
                                         ? heatmap
                                         : ResizeBilinear(heatmap, image.width, image.height);
  CAMSERVE_RETURN_IF_ERROR(WritePng(
      files.overlay_png, EncodeJetOverlayPng(at_image_size.values, image.rgb.data(), image.width, image.height)));
  return WriteFileBytes(files.npy, EncodeNpyFloat32(heatmap.values.data(), heatmap.height_px, heatmap.width_px));
}

}  // namespace camserve
