#include "core/cam/layer_cam.h"

namespace camserve {

at::Tensor LayerCam::RawMap(const at::Tensor& activations, const at::Tensor& gradients) const {
  return (at::relu(gradients) * activations).sum(1);
}

}  // namespace camserve
