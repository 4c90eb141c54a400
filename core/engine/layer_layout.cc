#include "core/engine/layer_layout.h"

#include <cmath>
#include <sstream>

namespace camserve {
namespace {

// The side of a square grid of `cells`, or 0 when it is not a square.
int64_t SquareSide(int64_t cells) {
  if (cells < 1) return 0;
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(cells))));
  return side * side == cells ? side : 0;
}

std::string ShapeText(const at::Tensor& tensor) {
  std::ostringstream text;
  text << tensor.sizes();
  return text.str();
}

}  // namespace

StatusOr<LayerLayout> ResolveLayerLayout(const at::Tensor& output, LayerLayout declared, const std::string& layer) {
  const std::string where = "layer '" + layer + "' output " + ShapeText(output);
  const int64_t dims = output.dim();
  switch (declared) {
    case LayerLayout::kAuto:
      if (dims == 4) return LayerLayout::kNchw;
      if (dims == 3 && SquareSide(output.size(1) - 1) > 0) return LayerLayout::kClassToken;
      return InvalidArgumentError(where +
                                  " is not [N, C, H, W] nor [N, 1 + h*w, C] (a class token and a square patch grid); "
                                  "declare [N, h*w, C] or [N, H, W, C] outputs in the model sidecar's layer_layouts "
                                  "(tokens, nhwc)");
    case LayerLayout::kNchw:
    case LayerLayout::kNhwc:
      if (dims == 4) return declared;
      return InvalidArgumentError(where + " is not 4-D as its declared layout " + LayerLayoutName(declared) + " says");
    case LayerLayout::kTokens:
      if (dims == 3 && SquareSide(output.size(1)) > 0) return declared;
      return InvalidArgumentError(where + " is not [N, h*w, C] with a square grid, as its declared layout tokens says");
    case LayerLayout::kClassToken:
      if (dims == 3 && SquareSide(output.size(1) - 1) > 0) return declared;
      return InvalidArgumentError(
          where + " is not [N, 1 + h*w, C] with a square grid, as its declared layout class_token says");
  }
  return InvalidArgumentError(where + ": unknown layout");
}

at::Tensor ToNchw(const at::Tensor& tensor, LayerLayout layout) {
  switch (layout) {
    case LayerLayout::kAuto:
    case LayerLayout::kNchw: return tensor;
    case LayerLayout::kNhwc: return tensor.permute({0, 3, 1, 2});
    case LayerLayout::kTokens:
    case LayerLayout::kClassToken: {
      const at::Tensor grid = layout == LayerLayout::kClassToken ? tensor.narrow(1, 1, tensor.size(1) - 1) : tensor;
      const int64_t side = SquareSide(grid.size(1));
      return grid.reshape({grid.size(0), side, side, grid.size(2)}).permute({0, 3, 1, 2});
    }
  }
  return tensor;
}

}  // namespace camserve
