// GradCamPlusPlus: Chattopadhay et al. 2018 (Eq. 19). Channel weight =
// sum over pixels of relu(g) * a_ij, a_ij = g^2 / (2 g^2 + sum(A) g^3 + 1e-6),
// a_ij = 0 where g = 0.
// Thread-safety and cost: see cam_method.h.
#pragma once

#include "core/cam/cam_method.h"

namespace camserve {

class GradCamPlusPlus : public ChannelWeightedCam {
 protected:
  at::Tensor ChannelWeights(const at::Tensor& activations, const at::Tensor& gradients) const override;
};

}  // namespace camserve
