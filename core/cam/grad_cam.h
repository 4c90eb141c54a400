// GradCam: Selvaraju et al. 2017. Channel weight = spatial mean of the gradient.
// Thread-safety and cost: see cam_method.h.
#pragma once

#include "core/cam/cam_method.h"

namespace camserve {

class GradCam : public ChannelWeightedCam {
 protected:
  at::Tensor ChannelWeights(const at::Tensor& activations, const at::Tensor& gradients) const override;
};

}  // namespace camserve
