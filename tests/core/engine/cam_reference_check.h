// Checks the engine against pytorch-grad-cam reference maps: the cases of a
// manifest.yaml written by tests/reference/make_cam_reference.py or
// make_architecture_reference.py, and the raw float32 files they name.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "tests/core/engine/engine_test_util.h"

namespace camserve::testing {

// On CPU (CI). CUDA runs may loosen it with CAMSERVE_TEST_MAP_TOLERANCE: TF32
// convolutions there round differently from the CPU reference.
inline double MaxMapDifference() {
  const char* tolerance = std::getenv("CAMSERVE_TEST_MAP_TOLERANCE");
  return tolerance ? std::stod(tolerance) : 1e-4;
}

// The images of a raw float32 [N,3,H,W] file, each shaped {3, H, W}.
inline std::vector<PreparedInput> LoadReferenceInputs(const std::string& path, int height_px, int width_px) {
  std::vector<float> values = ReadFloats(path);
  const size_t per_image = size_t{3} * height_px * width_px;
  REQUIRE(!values.empty());
  REQUIRE(values.size() % per_image == 0);
  std::vector<PreparedInput> images(values.size() / per_image);
  for (size_t i = 0; i < images.size(); ++i) {
    images[i].shape = {3, height_px, width_px};
    images[i].data.assign(values.begin() + i * per_image, values.begin() + (i + 1) * per_image);
    images[i].original_width_px = width_px;
    images[i].original_height_px = height_px;
  }
  return images;
}

// Explains manifest case `c` (the first images of `images`) at input and at
// feature resolution, and checks the resolved classes, the map shapes and the
// maps against the files in `reference_dir`. Returns the largest map
// difference.
inline double CheckReferenceCase(ExplainerEngine& engine, const std::vector<PreparedInput>& images, const YAML::Node& c,
                                 const std::string& reference_dir) {
  const std::string method_name = c["method"].as<std::string>();
  const std::string layer = c["layer"].as<std::string>();
  const int batch = c["batch"].as<int>();
  const auto targets = c["targets"].as<std::vector<int>>();
  const auto resolved = c["resolved_targets"].as<std::vector<int>>();
  const auto input_shape = c["input_shape"].as<std::vector<int>>();
  const auto feature_shape = c["expected_feature_shape"].as<std::vector<int>>();
  INFO(c["model"].as<std::string>() << " " << layer << " " << method_name << " batch " << batch);
  StatusOr<CamMethodKind> method = ParseCamMethod(method_name);
  REQUIRE(method.ok());
  REQUIRE(images.size() >= static_cast<size_t>(batch));

  std::vector<float> expected_input = ReadFloats(reference_dir + "/" + c["expected_input"].as<std::string>());
  std::vector<float> expected_feature = ReadFloats(reference_dir + "/" + c["expected_feature"].as<std::string>());

  double worst = 0;
  for (HeatmapResolution resolution : {HeatmapResolution::kInput, HeatmapResolution::kFeature}) {
    std::vector<ExplainItem> items;
    for (int i = 0; i < batch; ++i) {
      std::optional<int> target;
      if (targets[i] >= 0) target = targets[i];
      items.push_back(Item(images[i], target, resolution));
    }
    StatusOr<BatchResult> result = engine.Explain({*method, layer}, items);
    INFO(result.status().ToString());
    REQUIRE(result.ok());
    const bool at_input = resolution == HeatmapResolution::kInput;
    const std::vector<float>& expected = at_input ? expected_input : expected_feature;
    const int height_px = at_input ? input_shape[2] : feature_shape[1];
    const int width_px = at_input ? input_shape[3] : feature_shape[2];
    const size_t plane = static_cast<size_t>(height_px) * width_px;
    for (int i = 0; i < batch; ++i) {
      const ExplainResult& r = result->items[i];
      INFO("image " << i << (at_input ? " at input resolution" : " at feature resolution"));
      CHECK(r.target.class_index == resolved[i]);
      CHECK(r.heatmap.height_px == height_px);
      CHECK(r.heatmap.width_px == width_px);
      std::vector<float> expected_map(expected.begin() + i * plane, expected.begin() + (i + 1) * plane);
      const double difference = MaxAbsDiff(expected_map, r.heatmap.values.data(), r.heatmap.values.size());
      CHECK(difference <= MaxMapDifference());
      worst = std::max(worst, difference);
    }
  }
  return worst;
}

}  // namespace camserve::testing
