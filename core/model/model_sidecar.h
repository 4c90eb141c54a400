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
//   layer_layouts:                    # layers whose output is not [N, C, H, W]
//     features.7.1.norm2: nhwc        # nchw, nhwc, tokens, class_token
//
// Thread-safety: plain value type. Errors: LoadModelSidecar returns
// INVALID_ARGUMENT naming the file and key for malformed content.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "core/util/status.h"

namespace camserve {

// How a target layer's output holds its spatial grid. CAM methods work on
// [N, C, h, w]; the others are turned into it (and their gradients alike),
// as pytorch-grad-cam's reshape_transform examples do.
enum class LayerLayout {
  // [N, C, H, W]; or, for a 3-D output [N, T, C] whose T - 1 is a square, a
  // class token then a square patch grid (ViT), without configuration.
  kAuto,
  kNchw,        // [N, C, H, W]
  kNhwc,        // [N, H, W, C] (torchvision's Swin)
  kTokens,      // [N, h*w, C], a square grid of tokens
  kClassToken,  // [N, 1 + h*w, C]: the first token is dropped (ViT)
};

// "auto", "nchw", "nhwc", "tokens", "class_token".
const char* LayerLayoutName(LayerLayout layout);

struct ModelSidecar {
  std::string name;
  int input_height_px = 224;
  int input_width_px = 224;
  std::array<float, 3> mean = {0.485f, 0.456f, 0.406f};
  std::array<float, 3> std = {0.229f, 0.224f, 0.225f};
  // Empty: labels are the class indices written as decimal numbers.
  std::vector<std::string> labels;
  std::string default_layer = "layer4";
  // Declared layouts by layer path; other layers are kAuto.
  std::map<std::string, LayerLayout> layer_layouts;

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
