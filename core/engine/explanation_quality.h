// Explanation quality: how faithful a heatmap is to the model, measured by
// perturbing the model input with it (the definitions are those of
// docs/quality.md; the references the tests compare with are named there).
//
// For each image, with x the normalised model input, m the map at input
// resolution in [0, 1], t the explained class and p(.) its softmax
// probability:
//   masked_probability   p(x * m), the map broadcast over the channels
//                        (pytorch-grad-cam's CamMultImageConfidenceChange,
//                        torch-cam's ClassificationMetric)
//   confidence_change    p(x * m) - p(x)
//   average_drop         max(p(x) - p(x * m), 0) / (p(x) + 1e-7)
//   confidence_increase  p(x * m) > p(x)
//   deletion, insertion  Petsiuk et al. 2018 (RISE's CausalMetric): pixels
//                        in order of decreasing saliency (a stable sort,
//                        reversed, as RISE's np.flip(np.argsort(.))), in
//                        `steps` steps of ceil(H*W / steps) pixels. Deletion
//                        replaces them by 0; insertion starts from RISE's
//                        blurred copy (an 11x11 Gaussian, sigma 5, made as
//                        scipy's gaussian_filter of a delta, zero padding)
//                        and puts them back. Each curve has n + 1 points
//                        (n = ceil(H*W / pixels per step)); AUC = (sum -
//                        first / 2 - last / 2) / n.
// The deletion curve's first point and the insertion curve's last are p(x)
// itself (the explanation's forward); the other 1 + 2n images per explained
// image run through `run_forward` in chunks of batch_size.
//
// Thread-safety: pure functions; callbacks run on the caller's thread.
// Errors: CANCELLED when should_stop says so between chunks; what
// run_forward returns.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "core/engine/explain_types.h"
#include "core/engine/perturbation_options.h"
#include "core/util/status.h"

namespace camserve {

struct QualityInput {
  at::Tensor inputs;                // [N, 3, H, W] model inputs
  at::Tensor maps;                  // [N, H, W] in [0, 1]
  at::Tensor targets;               // [N] explained classes (long)
  at::Tensor target_probabilities;  // [N] p(x), from the explanation's forward
  // Logits [K, classes] of K model inputs.
  std::function<StatusOr<at::Tensor>(const at::Tensor& inputs)> run_forward;
  // May be empty.
  std::function<bool()> should_stop;
};

// One ExplanationQuality per image.
StatusOr<std::vector<ExplanationQuality>> EvaluateExplanations(const QualityInput& input,
                                                               const QualityOptions& options);

// RISE's blur kernel, gkern(11, 5): [11, 11], sums to 1.
at::Tensor RiseBlurKernel();

// Model forwards per evaluated image: 1 + 2 * (curve points - 1).
int64_t QualityForwardsPerImage(int64_t height_px, int64_t width_px, int steps);

}  // namespace camserve
