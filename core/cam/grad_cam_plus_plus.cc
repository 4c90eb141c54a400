#include "core/cam/grad_cam_plus_plus.h"

namespace camserve {

at::Tensor GradCamPlusPlus::ChannelWeights(const at::Tensor& activations, const at::Tensor& gradients) const {
  auto grads_power_2 = gradients * gradients;
  auto grads_power_3 = grads_power_2 * gradients;
  auto sum_activations = activations.sum({2, 3}, /*keepdim=*/true);
  auto aij = grads_power_2 / (2 * grads_power_2 + sum_activations * grads_power_3 + 1e-6f);
  aij = at::where(gradients != 0, aij, at::zeros_like(aij));
  return (at::relu(gradients) * aij).sum({2, 3});
}

}  // namespace camserve
