#include "core/cam/x_grad_cam.h"

namespace camserve {

at::Tensor XGradCam::ChannelWeights(const at::Tensor& activations, const at::Tensor& gradients) const {
  auto sum_activations = activations.sum({2, 3}, /*keepdim=*/true);
  return (gradients * activations / (sum_activations + 1e-7f)).sum({2, 3});
}

}  // namespace camserve
