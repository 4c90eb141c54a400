#include "core/cam/cam_method.h"

#include "core/cam/eigen_cam.h"
#include "core/cam/grad_cam.h"
#include "core/cam/grad_cam_plus_plus.h"
#include "core/cam/hires_cam.h"
#include "core/cam/layer_cam.h"
#include "core/cam/x_grad_cam.h"

namespace camserve {

at::Tensor NormalizePerImage(const at::Tensor& maps) {
  const int64_t n = maps.size(0);
  auto flat = maps.reshape({n, -1});
  flat = flat - std::get<0>(flat.min(/*dim=*/1, /*keepdim=*/true));
  flat = flat / (std::get<0>(flat.max(/*dim=*/1, /*keepdim=*/true)) + 1e-7f);
  return flat.reshape(maps.sizes());
}

at::Tensor FinishMap(const at::Tensor& raw_maps) { return NormalizePerImage(at::relu(raw_maps)); }

at::Tensor ChannelWeightedSum(const at::Tensor& weights, const at::Tensor& activations) {
  return (weights.unsqueeze(-1).unsqueeze(-1) * activations).sum(1);
}

at::Tensor CamMethod::Compute(const at::Tensor& activations, const at::Tensor& gradients) const {
  auto acts = activations.to(at::kFloat);
  auto grads = gradients.defined() ? gradients.to(at::kFloat) : gradients;
  return FinishMap(RawMap(acts, grads));
}

at::Tensor ChannelWeightedCam::RawMap(const at::Tensor& activations, const at::Tensor& gradients) const {
  return ChannelWeightedSum(ChannelWeights(activations, gradients), activations);
}

std::unique_ptr<CamMethod> CreateCamMethod(CamMethodKind kind) {
  switch (kind) {
    case CamMethodKind::kGradCam: return std::make_unique<GradCam>();
    case CamMethodKind::kGradCamPlusPlus: return std::make_unique<GradCamPlusPlus>();
    case CamMethodKind::kXGradCam: return std::make_unique<XGradCam>();
    case CamMethodKind::kHiResCam: return std::make_unique<HiResCam>();
    case CamMethodKind::kLayerCam: return std::make_unique<LayerCam>();
    case CamMethodKind::kEigenCam: return std::make_unique<EigenCam>();
    case CamMethodKind::kAblationCam:
    case CamMethodKind::kScoreCam:
    case CamMethodKind::kReciproCam: return nullptr;  // core/engine/perturbation_cam.h
  }
  return nullptr;
}

}  // namespace camserve
