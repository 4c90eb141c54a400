#include "core/cam/hires_cam.h"

namespace camserve {

at::Tensor HiResCam::RawMap(const at::Tensor& activations, const at::Tensor& gradients) const {
  return (gradients * activations).sum(1);
}

}  // namespace camserve
