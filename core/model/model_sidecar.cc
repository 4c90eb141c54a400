#include "core/model/model_sidecar.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace camserve {
namespace {

namespace fs = std::filesystem;

Status KeyError(const std::string& path, const std::string& key, const std::string& why) {
  return InvalidArgumentError("model sidecar " + path + ": key '" + key + "' " + why);
}

Status ReadTriple(const YAML::Node& node, const std::string& path, const std::string& key, bool must_be_positive,
                  std::array<float, 3>* out) {
  if (!node.IsSequence() || node.size() != 3) {
    return KeyError(path, key, "must be a list of 3 numbers [r, g, b]");
  }
  for (size_t i = 0; i < 3; ++i) {
    float v = node[i].as<float>();
    if (!std::isfinite(v) || (must_be_positive && v <= 0.f)) {
      return KeyError(path, key, "has invalid value " + node[i].as<std::string>());
    }
    (*out)[i] = v;
  }
  return Status::Ok();
}

StatusOr<std::vector<std::string>> ReadLabelsFile(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return InvalidArgumentError("cannot read labels_file " + file.string());
  std::vector<std::string> labels;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels.push_back(line);
  }
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  return labels;
}

Status ParseSidecar(const YAML::Node& root, const std::string& path, ModelSidecar* sidecar) {
  if (!root.IsMap()) return InvalidArgumentError("model sidecar " + path + " is not a YAML mapping");
  if (root["name"]) sidecar->name = root["name"].as<std::string>();
  if (const YAML::Node size = root["input_size"]) {
    if (!size.IsSequence() || size.size() != 2) {
      return KeyError(path, "input_size", "must be [H, W]");
    }
    int h = size[0].as<int>(), w = size[1].as<int>();
    if (h < 1 || w < 1 || h > 8192 || w > 8192) {
      return KeyError(path, "input_size",
                      "must hold sizes in [1, 8192]; was [" + std::to_string(h) + ", " + std::to_string(w) + "]");
    }
    sidecar->input_height_px = h;
    sidecar->input_width_px = w;
  }
  if (root["mean"]) CAMSERVE_RETURN_IF_ERROR(ReadTriple(root["mean"], path, "mean", false, &sidecar->mean));
  if (root["std"]) CAMSERVE_RETURN_IF_ERROR(ReadTriple(root["std"], path, "std", true, &sidecar->std));
  if (root["labels"] && root["labels_file"]) {
    return KeyError(path, "labels", "and 'labels_file' are mutually exclusive");
  }
  if (const YAML::Node labels = root["labels"]) {
    if (!labels.IsSequence()) return KeyError(path, "labels", "must be a list of strings");
    for (const auto& label : labels) sidecar->labels.push_back(label.as<std::string>());
  }
  if (const YAML::Node file = root["labels_file"]) {
    auto labels = ReadLabelsFile(fs::path(path).parent_path() / file.as<std::string>());
    if (!labels.ok()) return KeyError(path, "labels_file", labels.status().message());
    sidecar->labels = std::move(labels).value();
  }
  if (root["default_layer"]) sidecar->default_layer = root["default_layer"].as<std::string>();
  if (const YAML::Node layouts = root["layer_layouts"]) {
    if (!layouts.IsMap()) return KeyError(path, "layer_layouts", "must map layer paths to layouts");
    for (const auto& entry : layouts) {
      const std::string layer = entry.first.as<std::string>();
      const std::string name = entry.second.as<std::string>();
      bool known = false;
      for (LayerLayout layout :
           {LayerLayout::kNchw, LayerLayout::kNhwc, LayerLayout::kTokens, LayerLayout::kClassToken}) {
        if (name == LayerLayoutName(layout)) {
          sidecar->layer_layouts[layer] = layout;
          known = true;
        }
      }
      if (!known) {
        return KeyError(path, "layer_layouts",
                        "has '" + name + "' for layer '" + layer + "'; use nchw, nhwc, tokens or class_token");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

const char* LayerLayoutName(LayerLayout layout) {
  switch (layout) {
    case LayerLayout::kAuto: return "auto";
    case LayerLayout::kNchw: return "nchw";
    case LayerLayout::kNhwc: return "nhwc";
    case LayerLayout::kTokens: return "tokens";
    case LayerLayout::kClassToken: return "class_token";
  }
  return "auto";
}

std::string ModelSidecar::LabelFor(int index) const {
  if (index >= 0 && static_cast<size_t>(index) < labels.size()) return labels[index];
  return std::to_string(index);
}

std::string SidecarPathFor(const std::string& model_path) {
  return fs::path(model_path).replace_extension(".yaml").string();
}

StatusOr<ModelSidecar> LoadModelSidecar(const std::string& model_path, const std::string& sidecar_path,
                                        const ModelSidecarDefaults& defaults) {
  ModelSidecar sidecar;
  sidecar.name = fs::path(model_path).stem().string();
  sidecar.input_height_px = defaults.input_height_px;
  sidecar.input_width_px = defaults.input_width_px;
  sidecar.default_layer = defaults.default_layer;
  std::error_code ec;
  if (sidecar_path.empty() || !fs::exists(sidecar_path, ec)) return sidecar;
  try {
    CAMSERVE_RETURN_IF_ERROR(ParseSidecar(YAML::LoadFile(sidecar_path), sidecar_path, &sidecar));
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError("model sidecar " + sidecar_path + ": " + e.what());
  }
  return sidecar;
}

}  // namespace camserve
