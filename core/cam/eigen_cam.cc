#include "core/cam/eigen_cam.h"

namespace camserve {

at::Tensor EigenCam::RawMap(const at::Tensor& activations, const at::Tensor& gradients) const {
  const int64_t n = activations.size(0), c = activations.size(1);
  const int64_t h = activations.size(2), w = activations.size(3);
  // X: [N, h*w, C], centred per channel over the pixels; NaN treated as 0.
  // Float64: the projection comes from a Gram matrix, whose conditioning is
  // the square of X's.
  at::Tensor x = at::nan_to_num(activations).to(at::kDouble).reshape({n, c, h * w}).transpose(1, 2);
  x = x - x.mean(1, /*keepdim=*/true);
  // The projection on the first right-singular vector v is X v = sigma * u,
  // u the first left-singular vector. Take the eigen-decomposition of the
  // smaller Gram matrix: X X^T ([hw, hw]) gives u and sigma^2 directly;
  // X^T X ([C, C]) gives v. Both are far cheaper than an SVD of X.
  at::Tensor projection;
  if (h * w <= c) {
    auto [eigenvalues, eigenvectors] = at::linalg_eigh(at::bmm(x, x.transpose(1, 2)));
    at::Tensor sigma = eigenvalues.select(1, h * w - 1).clamp_min(0).sqrt();  // ascending order
    projection = eigenvectors.select(2, h * w - 1) * sigma.unsqueeze(1);
  } else {
    auto [eigenvalues, eigenvectors] = at::linalg_eigh(at::bmm(x.transpose(1, 2), x));
    projection = at::bmm(x, eigenvectors.select(2, c - 1).unsqueeze(2)).squeeze(2);
  }
  at::Tensor max_abs = projection.amax(1).abs();
  at::Tensor min_abs = projection.amin(1).abs();
  at::Tensor sign = at::where(min_abs > max_abs, -at::ones_like(max_abs), at::ones_like(max_abs));
  return (projection * sign.unsqueeze(1)).to(at::kFloat).reshape({n, h, w});
}

}  // namespace camserve
