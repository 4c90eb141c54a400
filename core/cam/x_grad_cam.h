// XGradCam: Fu et al. 2020. Channel weight = sum over pixels of
// g * A / (sum(A) + 1e-7).
// Thread-safety and cost: see cam_method.h.
#pragma once

#include "core/cam/cam_method.h"

namespace camserve {

class XGradCam : public ChannelWeightedCam {
 protected:
  at::Tensor ChannelWeights(const at::Tensor& activations, const at::Tensor& gradients) const override;
};

}  // namespace camserve
