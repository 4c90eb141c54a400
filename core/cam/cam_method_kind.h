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
  // Gradient-free methods that perturb and re-run the model
  // (core/engine/perturbation_cam.h).
  kAblationCam,
  kScoreCam,
  kReciproCam,
};

// "gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam",
// "ablationcam", "scorecam", "reciprocam".
const char* CamMethodName(CamMethodKind kind);

// Parses a wire name (case-insensitive); empty means gradcam. Unknown names
// are INVALID_ARGUMENT listing the valid ones.
StatusOr<CamMethodKind> ParseCamMethod(std::string_view name);

// All methods, in the order above.
const std::vector<CamMethodKind>& AllCamMethods();

// False for gradient-free methods (EigenCAM and the perturbation methods),
// which skip the backward pass.
bool CamMethodUsesGradients(CamMethodKind kind);

// True for the methods that run the model (or the part after the target
// layer) again on perturbed inputs: AblationCAM, ScoreCAM, Recipro-CAM. They
// cost more than one forward pass; the others are computed from one forward
// (and one backward) by a CamMethod.
bool CamMethodPerturbs(CamMethodKind kind);

}  // namespace camserve
