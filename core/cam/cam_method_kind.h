// CamMethodKind: the class-activation-map methods camserve offers, and their
// wire names. Plain enum; no LibTorch, so RPC and batcher code can use it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/util/status.h"

namespace camserve {

enum class CamMethodKind {
  kGradCam,
  kGradCamPlusPlus,
  kXGradCam,
  kHiResCam,
  kLayerCam,
  kEigenCam,
};

// "gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam".
const char* CamMethodName(CamMethodKind kind);

// Parses a wire name (case-insensitive); empty means gradcam. Unknown names
// are INVALID_ARGUMENT listing the valid ones.
StatusOr<CamMethodKind> ParseCamMethod(std::string_view name);

// All methods, in the order above.
const std::vector<CamMethodKind>& AllCamMethods();

// False for gradient-free methods (EigenCAM), which skip the backward pass.
bool CamMethodUsesGradients(CamMethodKind kind);

}  // namespace camserve
