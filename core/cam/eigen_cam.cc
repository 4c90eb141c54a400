#include "core/cam/eigen_cam.h"

namespace camserve {

at::Tensor EigenCam::RawMap(const at::Tensor& activations,
                               const at::Tensor& gradients) const {
  const int64_t n = activations.size(0), c = activations.size(1);
  const int64_t h = activations.size(2), w = activations.size(3);
  // [N, h*w, C], centred per channel over the pixels; NaN treated as 0.
  auto pixels = at::nan_to_num(activations).reshape({n, c, h * w}).transpose(1, 2);
  pixels = pixels - pixels.mean(1, /*keepdim=*/true);
  // Only the first right-singular vector is needed; the reduced SVD is exact.
  auto svd = at::linalg_svd(pixels, /*full_matrices=*/false);
  auto first_direction = std::get<2>(svd).select(1, 0).unsqueeze(-1);  // [N, C, 1]
  auto projection = at::bmm(pixels, first_direction).reshape({n, h * w});
  auto max_abs = projection.amax(1).abs();
  auto min_abs = projection.amin(1).abs();
  auto sign = at::where(min_abs > max_abs, -at::ones_like(max_abs), at::ones_like(max_abs));
  return (projection * sign.unsqueeze(1)).reshape({n, h, w});
}

}  // namespace camserve
