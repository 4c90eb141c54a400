// EigenCam: Muhammad & Yeasin 2020. Gradient-free: the projection of the
// centred activations (pixels x channels) on their first principal direction.
//
// Sign convention: a singular vector's sign is arbitrary, so the projection is flipped
// when |min| > |max| (the correction of Seg-Eigen-CAM, Chung & Ying 2025,
// Eq. 13, shipped by pytorch-grad-cam as get_2d_projection_with_sign_correction):
// the dominant extreme of the map is always positive and survives the ReLU.
// Thread-safety and cost: see cam_method.h.
#pragma once

#include "core/cam/cam_method.h"

namespace camserve {

class EigenCam : public CamMethod {
 public:
  bool UsesGradients() const override { return false; }

 protected:
  at::Tensor RawMap(const at::Tensor& activations, const at::Tensor& gradients) const override;
};

}  // namespace camserve
