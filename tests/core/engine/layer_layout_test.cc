#include "core/engine/layer_layout.h"

#include <catch2/catch.hpp>

namespace camserve {
namespace {

TEST_CASE("layer layouts are recognised or declared, and refused with the reason") {
  const at::Tensor nchw = at::zeros({2, 8, 5, 5});
  const at::Tensor class_token = at::zeros({2, 1 + 14 * 14, 8});
  const at::Tensor tokens = at::zeros({2, 49, 8});
  CHECK(ResolveLayerLayout(nchw, LayerLayout::kAuto, "l").value() == LayerLayout::kNchw);
  CHECK(ResolveLayerLayout(class_token, LayerLayout::kAuto, "l").value() == LayerLayout::kClassToken);
  CHECK(ResolveLayerLayout(nchw, LayerLayout::kNhwc, "l").value() == LayerLayout::kNhwc);
  CHECK(ResolveLayerLayout(tokens, LayerLayout::kTokens, "l").value() == LayerLayout::kTokens);
  CHECK(ResolveLayerLayout(class_token, LayerLayout::kClassToken, "l").value() == LayerLayout::kClassToken);

  // 49 tokens are a square grid, not a class token and a square one: only
  // declared as tokens do they work.
  const Status undeclared = ResolveLayerLayout(tokens, LayerLayout::kAuto, "blocks.3").status();
  CHECK(undeclared.code() == StatusCode::kInvalidArgument);
  CHECK(undeclared.message() ==
        "layer 'blocks.3' output [2, 49, 8] is not [N, C, H, W] nor [N, 1 + h*w, C] (a class token and a square "
        "patch grid); declare [N, h*w, C] or [N, H, W, C] outputs in the model sidecar's layer_layouts (tokens, "
        "nhwc)");
  CHECK(ResolveLayerLayout(at::zeros({2, 10}), LayerLayout::kAuto, "fc").status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(ResolveLayerLayout(at::zeros({2, 50, 8}), LayerLayout::kTokens, "l").status().message() ==
        "layer 'l' output [2, 50, 8] is not [N, h*w, C] with a square grid, as its declared layout tokens says");
  CHECK(ResolveLayerLayout(tokens, LayerLayout::kNhwc, "l").status().message() ==
        "layer 'l' output [2, 49, 8] is not 4-D as its declared layout nhwc says");
}

TEST_CASE("ToNchw puts token (i, j) and channel c at [n, c, i, j], as pytorch-grad-cam's reshape_transform") {
  const int64_t n = 2, side = 3, channels = 4;
  const at::Tensor class_token =
      at::arange(n * (1 + side * side) * channels, at::kFloat).reshape({n, 1 + side * side, channels});
  const at::Tensor grid = ToNchw(class_token, LayerLayout::kClassToken);
  REQUIRE(grid.sizes() == at::IntArrayRef({n, channels, side, side}));
  const at::Tensor tokens = class_token.narrow(1, 1, side * side).contiguous();
  const at::Tensor nhwc = tokens.reshape({n, side, side, channels});
  CHECK(at::equal(ToNchw(tokens, LayerLayout::kTokens), grid));
  CHECK(at::equal(ToNchw(nhwc, LayerLayout::kNhwc), grid));
  for (int64_t image = 0; image < n; ++image) {
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t i = 0; i < side; ++i) {
        for (int64_t j = 0; j < side; ++j) {
          CHECK(grid[image][c][i][j].item<float>() == class_token[image][1 + i * side + j][c].item<float>());
        }
      }
    }
  }
  const at::Tensor plain = at::rand({1, 2, 3, 3});
  CHECK(at::equal(ToNchw(plain, LayerLayout::kNchw), plain));
}

}  // namespace
}  // namespace camserve
