#include "core/cam/grad_cam.h"

namespace camserve {

at::Tensor GradCam::ChannelWeights(const at::Tensor& activations, const at::Tensor& gradients) const {
  return gradients.mean({2, 3});
}

}  // namespace camserve
