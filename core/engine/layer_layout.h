// Layer layouts at run time: recognises how a target layer's output holds
// its spatial grid (model_sidecar.h, LayerLayout) and turns activations and
// their gradients into the [N, C, h, w] the CAM methods take.
//
// Thread-safety: pure functions.
// Errors: ResolveLayerLayout returns INVALID_ARGUMENT naming the layer, its
// output shape and what would make it work.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "core/model/model_sidecar.h"
#include "core/util/status.h"

namespace camserve {

// The concrete layout (never kAuto) of `output`, a target layer's output,
// given the declared one.
StatusOr<LayerLayout> ResolveLayerLayout(const at::Tensor& output, LayerLayout declared, const std::string& layer);

// `tensor` (an activation, or its gradient) in [N, C, h, w]; a view where
// possible. REQUIRES: `layout` was resolved for a tensor of this shape.
at::Tensor ToNchw(const at::Tensor& tensor, LayerLayout layout);

}  // namespace camserve
