// HiResCam: Draelos & Carin 2020. Map = sum over channels of g * A
// (element-wise, no spatial averaging), faithful to the model's score.
// Thread-safety and cost: see cam_method.h.
#pragma once

#include "core/cam/cam_method.h"

namespace camserve {

class HiResCam : public CamMethod {
 protected:
  at::Tensor RawMap(const at::Tensor& activations, const at::Tensor& gradients) const override;
};

}  // namespace camserve
