// CamMethod: turns a target layer's activations (and, for gradient-based
// methods, the gradients of the target scores with respect to them) into one
// normalised class-activation map per image.
//
// Definitions follow pytorch-grad-cam (jacobgil/pytorch-grad-cam): each method
// produces a raw map, then ReLU and per-image min-max normalisation at feature
// resolution: m = m - min(m); m = m / (1e-7 + max(m)). All math is batched
// LibTorch on the tensors' device; there is no per-image loop on the host.
//
// Thread-safety: stateless; Compute may be called concurrently.
// Cost: a few element-wise passes over [N, C, h, w] (EigenCAM: a batched
// float64 eigen-decomposition of the smaller Gram matrix, [hw, hw] or [C, C]);
// negligible next to the forward pass.
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "core/cam/cam_method_kind.h"

namespace camserve {

class CamMethod {
 public:
  virtual ~CamMethod() = default;

  // REQUIRES: activations is [N, C, h, w]; gradients has the same shape, or is
  // undefined when UsesGradients() is false.
  // Returns [N, h, w] float32 maps in [0, 1].
  at::Tensor Compute(const at::Tensor& activations, const at::Tensor& gradients) const;

  virtual bool UsesGradients() const { return true; }

 protected:
  // The method-specific map before ReLU and normalisation: [N, h, w].
  virtual at::Tensor RawMap(const at::Tensor& activations, const at::Tensor& gradients) const = 0;
};

// Methods that weight each channel by one scalar per image:
// map = sum_c weight[n, c] * activations[n, c].
class ChannelWeightedCam : public CamMethod {
 protected:
  // Returns [N, C] weights.
  virtual at::Tensor ChannelWeights(const at::Tensor& activations, const at::Tensor& gradients) const = 0;
  at::Tensor RawMap(const at::Tensor& activations, const at::Tensor& gradients) const override;
};

// Per-image min-max normalisation of [N, h, w] maps (eps 1e-7), as in
// pytorch-grad-cam's scale_cam_image.
at::Tensor NormalizePerImage(const at::Tensor& maps);

// What every method does with its raw [N, h, w] map: ReLU, then
// NormalizePerImage.
at::Tensor FinishMap(const at::Tensor& raw_maps);

// sum_c weights[n, c] * activations[n, c]: [N, h, w] from [N, C] weights
// and [N, C, h, w] activations.
at::Tensor ChannelWeightedSum(const at::Tensor& weights, const at::Tensor& activations);

// Null for the perturbation methods (CamMethodPerturbs), which need the model.
std::unique_ptr<CamMethod> CreateCamMethod(CamMethodKind kind);

}  // namespace camserve
