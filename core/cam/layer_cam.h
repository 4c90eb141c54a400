// LayerCam: Jiang et al. 2021. Map = sum over channels of relu(g) * A.
// Thread-safety and cost: see cam_method.h.
#pragma once

#include "core/cam/cam_method.h"

namespace camserve {

class LayerCam : public CamMethod {
 protected:
  at::Tensor RawMap(const at::Tensor& activations, const at::Tensor& gradients) const override;
};

}  // namespace camserve
