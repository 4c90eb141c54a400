#include "core/cam/cam_method_kind.h"

#include <algorithm>
#include <cctype>

namespace camserve {

const char* CamMethodName(CamMethodKind kind) {
  switch (kind) {
    case CamMethodKind::kGradCam: return "gradcam";
    case CamMethodKind::kGradCamPlusPlus: return "gradcam++";
    case CamMethodKind::kXGradCam: return "xgradcam";
    case CamMethodKind::kHiResCam: return "hirescam";
    case CamMethodKind::kLayerCam: return "layercam";
    case CamMethodKind::kEigenCam: return "eigencam";
    case CamMethodKind::kAblationCam: return "ablationcam";
    case CamMethodKind::kScoreCam: return "scorecam";
    case CamMethodKind::kReciproCam: return "reciprocam";
  }
  return "unknown";
}

const std::vector<CamMethodKind>& AllCamMethods() {
  static const std::vector<CamMethodKind> kAll = {
      CamMethodKind::kGradCam,     CamMethodKind::kGradCamPlusPlus, CamMethodKind::kXGradCam,
      CamMethodKind::kHiResCam,    CamMethodKind::kLayerCam,        CamMethodKind::kEigenCam,
      CamMethodKind::kAblationCam, CamMethodKind::kScoreCam,        CamMethodKind::kReciproCam};
  return kAll;
}

StatusOr<CamMethodKind> ParseCamMethod(std::string_view name) {
  if (name.empty()) return CamMethodKind::kGradCam;
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string valid;
  for (CamMethodKind kind : AllCamMethods()) {
    if (lower == CamMethodName(kind)) return kind;
    valid += valid.empty() ? "" : ", ";
    valid += CamMethodName(kind);
  }
  return InvalidArgumentError("unknown method '" + std::string(name) + "'; valid methods: " + valid);
}

bool CamMethodUsesGradients(CamMethodKind kind) { return kind != CamMethodKind::kEigenCam && !CamMethodPerturbs(kind); }

bool CamMethodPerturbs(CamMethodKind kind) {
  return kind == CamMethodKind::kAblationCam || kind == CamMethodKind::kScoreCam || kind == CamMethodKind::kReciproCam;
}

}  // namespace camserve
