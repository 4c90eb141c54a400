#include "core/engine/explanation_quality.h"

#include <cmath>

#include "core/engine/perturbation_cam.h"

namespace camserve {
namespace {

constexpr int kBlurSize = 11;
constexpr double kBlurSigma = 5;
// scipy.ndimage.gaussian_filter's default: the kernel reaches 4 sigma.
constexpr double kBlurTruncate = 4.0;

// scipy.ndimage's 'reflect' mode: (d c b a | a b c d | d c b a).
int Reflect(int index, int size) {
  const int period = 2 * size;
  int folded = ((index % period) + period) % period;
  return folded < size ? folded : period - 1 - folded;
}

struct Curves {
  int64_t pixels_per_step = 0;
  int64_t steps = 0;  // n: the curves have n + 1 points
};

Curves CurvesFor(int64_t pixels, int steps) {
  Curves curves;
  curves.pixels_per_step = (pixels + steps - 1) / steps;
  curves.steps = (pixels + curves.pixels_per_step - 1) / curves.pixels_per_step;
  return curves;
}

double Auc(const std::vector<float>& curve) {
  double sum = 0;
  for (float value : curve) sum += value;
  return (sum - curve.front() / 2.0 - curve.back() / 2.0) / static_cast<double>(curve.size() - 1);
}

}  // namespace

at::Tensor RiseBlurKernel() {
  // The 1-D filter of a centred delta; the 2-D kernel is its outer product,
  // as scipy filters each axis in turn.
  const int radius = static_cast<int>(kBlurTruncate * kBlurSigma + 0.5);
  std::vector<double> weights;
  double total = 0;
  for (int offset = -radius; offset <= radius; ++offset) {
    weights.push_back(std::exp(-0.5 * offset * offset / (kBlurSigma * kBlurSigma)));
    total += weights.back();
  }
  at::Tensor line = at::zeros({kBlurSize}, at::kDouble);
  for (int position = 0; position < kBlurSize; ++position) {
    double value = 0;
    for (int offset = -radius; offset <= radius; ++offset) {
      if (Reflect(position + offset, kBlurSize) == kBlurSize / 2) value += weights[offset + radius] / total;
    }
    line[position] = value;
  }
  return at::outer(line, line).to(at::kFloat);
}

int64_t QualityForwardsPerImage(int64_t height_px, int64_t width_px, int steps) {
  return 1 + 2 * CurvesFor(height_px * width_px, steps).steps;
}

StatusOr<std::vector<ExplanationQuality>> EvaluateExplanations(const QualityInput& input,
                                                               const QualityOptions& options) {
  at::NoGradGuard no_grad;
  const at::Tensor inputs = input.inputs.to(at::kFloat).contiguous();
  const int64_t n = inputs.size(0);
  const int64_t channels = inputs.size(1);
  const int64_t height = inputs.size(2);
  const int64_t width = inputs.size(3);
  const int64_t pixels = height * width;
  const Curves curves = CurvesFor(pixels, options.steps);
  const at::Tensor maps = input.maps.to(at::kFloat).reshape({n, 1, height, width});

  // rank[n, pixel]: the pixel's place in the order of decreasing saliency.
  const at::Tensor ascending = std::get<1>(maps.reshape({n, pixels}).sort(/*stable=*/true, /*dim=*/1, false));
  const at::Tensor order = ascending.flip(1);
  const at::Tensor rank = at::empty_like(order).scatter_(
      1, order, at::arange(pixels, order.options()).unsqueeze(0).expand({n, pixels}).contiguous());
  const at::Tensor ranks = rank.view({n, 1, height, width});
  const at::Tensor kernel = RiseBlurKernel().to(inputs.device()).expand({channels, 1, kBlurSize, kBlurSize});
  const at::Tensor blurred = at::conv2d(inputs, kernel, /*bias=*/{}, /*stride=*/1, /*padding=*/kBlurSize / 2,
                                        /*dilation=*/1, /*groups=*/channels);

  // Per image: row 0 is x * m, rows 1..n deletion steps 1..n, rows n+1..2n
  // insertion steps 0..n-1.
  const int64_t per_image = 1 + 2 * curves.steps;
  auto row_input = [&](int64_t row) {
    const int64_t image = row / per_image;
    const int64_t kind = row % per_image;
    const at::Tensor x = inputs[image];
    if (kind == 0) return x * maps[image];
    if (kind <= curves.steps) return x * (ranks[image] >= kind * curves.pixels_per_step).to(at::kFloat);
    const int64_t inserted = (kind - curves.steps - 1) * curves.pixels_per_step;
    return at::where(ranks[image] < inserted, x, blurred[image]);
  };
  auto logits_of = [&](int64_t begin, int64_t end, int /*worker*/) -> StatusOr<at::Tensor> {
    std::vector<at::Tensor> rows;
    for (int64_t row = begin; row < end; ++row) rows.push_back(row_input(row));
    return input.run_forward(at::stack(rows));
  };
  StatusOr<at::Tensor> scores =
      ScoreRowsInChunks(n * per_image, options.batch_size, input.targets.repeat_interleave(per_image),
                        ChunkScore::kProbability, logits_of, input.should_stop);
  if (!scores.ok()) return scores.status();
  const at::Tensor table = scores->view({n, per_image}).to(at::kCPU).contiguous();
  const at::Tensor original = input.target_probabilities.to(at::kFloat).to(at::kCPU).contiguous();

  std::vector<ExplanationQuality> qualities(static_cast<size_t>(n));
  for (int64_t image = 0; image < n; ++image) {
    const float* row = table[image].data_ptr<float>();
    const float p = original[image].item<float>();
    ExplanationQuality& quality = qualities[static_cast<size_t>(image)];
    quality.target_probability = p;
    quality.masked_probability = row[0];
    quality.confidence_change = row[0] - p;
    quality.average_drop = std::max(p - row[0], 0.f) / (p + 1e-7f);
    quality.confidence_increase = row[0] > p;
    quality.steps = static_cast<int>(curves.steps);
    quality.deletion_curve.push_back(p);
    quality.deletion_curve.insert(quality.deletion_curve.end(), row + 1, row + 1 + curves.steps);
    quality.insertion_curve.assign(row + 1 + curves.steps, row + per_image);
    quality.insertion_curve.push_back(p);
    quality.deletion_auc = static_cast<float>(Auc(quality.deletion_curve));
    quality.insertion_auc = static_cast<float>(Auc(quality.insertion_curve));
  }
  return qualities;
}

}  // namespace camserve
