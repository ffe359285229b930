#include "leaves/augment/magnitude_warp.h"

namespace leaves::augment {

torch::Tensor magnitude_warp(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& eps,
                             const torch::Tensor& basis) {
  auto knots = 1 + sigma * eps;      // [B, C, k]
  return x * knots.matmul(basis);    // [B, C, k] x [k, L] -> [B, C, L]
}

MagnitudeWarpImpl::MagnitudeWarpImpl(const MagnitudeWarpOptions& options_) : options(options_) { reset(); }

void MagnitudeWarpImpl::reset() {
  check_option(options.knots() >= 2, "MagnitudeWarp", "knots", ">= 2", static_cast<double>(options.knots()));
  raw = register_intensity(*this, "MagnitudeWarp", options.eta(), options.init());
}

torch::Tensor MagnitudeWarpImpl::sigma() const { return bounded(raw, 0.0, options.eta()); }

torch::Tensor MagnitudeWarpImpl::sample_noise(const torch::Tensor& x) const {
  check_series(x, "MagnitudeWarp");
  return torch::randn({x.size(0), x.size(1), options.knots()}, x.options());
}

torch::Tensor MagnitudeWarpImpl::forward(const torch::Tensor& x) { return transform(x, sample_noise(x)); }

torch::Tensor MagnitudeWarpImpl::transform(const torch::Tensor& x, const torch::Tensor& eps) {
  check_series(x, "MagnitudeWarp");
  auto W = basis_.get(options.knots(), x.size(2), options.interpolation(), x.options());
  return magnitude_warp(x, sigma().to(x.scalar_type()), eps, W);
}

}  // namespace leaves::augment
