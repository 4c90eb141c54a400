// ModelSidecar: the preprocessing and labelling facts that travel beside a
// TorchScript file as NAME.yaml. A model without a sidecar still loads, with
// the documented defaults below (ImageNet statistics, numeric labels).
//
// Sidecar keys (all optional):
//   name: digits_cnn                  # default: the file name without .pt
//   input_size: [H, W]                # default: ModelSidecarDefaults
//   mean: [r, g, b]                   # in [0,1] pixel units; default ImageNet
//   std: [r, g, b]                    # default ImageNet
//   labels: ["zero", "one", ...]      # or labels_file: path relative to the yaml
//   default_layer: layer4             # default: ModelSidecarDefaults
//
// Thread-safety: plain value type. Errors: LoadModelSidecar returns
// INVALID_ARGUMENT naming the file and key for malformed content.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "core/util/status.h"

namespace camserve {

struct ModelSidecar {
  std::string name;
  int input_height_px = 224;
  int input_width_px = 224;
  std::array<float, 3> mean = {0.485f, 0.456f, 0.406f};
  std::array<float, 3> std = {0.229f, 0.224f, 0.225f};
  // Empty: labels are the class indices written as decimal numbers.
  std::vector<std::string> labels;
  std::string default_layer = "layer4";

  // The label of class `index`, falling back to the decimal index.
  std::string LabelFor(int index) const;
};

// Values used where neither the sidecar nor the caller says otherwise.
struct ModelSidecarDefaults {
  int input_height_px = 224;
  int input_width_px = 224;
  std::string default_layer = "layer4";
};

// Returns NAME.yaml beside NAME.pt (the path may not exist).
std::string SidecarPathFor(const std::string& model_path);

// Reads the sidecar at `sidecar_path`. When the file does not exist, returns
// the defaults with `name` taken from `model_path`'s stem.
StatusOr<ModelSidecar> LoadModelSidecar(const std::string& model_path, const std::string& sidecar_path,
                                        const ModelSidecarDefaults& defaults = {});

}  // namespace camserve
