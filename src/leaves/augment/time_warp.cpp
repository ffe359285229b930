#include "leaves/augment/time_warp.h"

namespace leaves::augment {

torch::Tensor time_warp_positions(const torch::Tensor& sigma, const torch::Tensor& eps, const torch::Tensor& basis) {
  const int64_t L = basis.size(1);
  auto speed = (1 + sigma * eps).matmul(basis).clamp_min(1e-3);  // [B, W, L]
  auto cum = speed.cumsum(-1);
  auto start = cum.narrow(-1, 0, 1);
  auto span = cum.narrow(-1, L - 1, 1) - start;
  if (L == 1) return torch::zeros_like(cum);
  return (cum - start) / span * static_cast<double>(L - 1);
}

torch::Tensor time_warp(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& eps,
                        const torch::Tensor& basis) {
  return resample_linear(x, time_warp_positions(sigma, eps, basis));
}

TimeWarpImpl::TimeWarpImpl(const TimeWarpOptions& options_) : options(options_) { reset(); }

void TimeWarpImpl::reset() {
  check_option(options.knots() >= 2, "TimeWarp", "knots", ">= 2", static_cast<double>(options.knots()));
  raw = register_intensity(*this, "TimeWarp", options.eta(), options.init());
}

torch::Tensor TimeWarpImpl::sigma() const { return bounded(raw, 0.0, options.eta()); }

torch::Tensor TimeWarpImpl::sample_noise(const torch::Tensor& x) const {
  check_series(x, "TimeWarp");
  return torch::randn({x.size(0), options.per_channel() ? x.size(1) : 1, options.knots()}, x.options());
}

torch::Tensor TimeWarpImpl::forward(const torch::Tensor& x) { return transform(x, sample_noise(x)); }

torch::Tensor TimeWarpImpl::transform(const torch::Tensor& x, const torch::Tensor& eps) {
  check_series(x, "TimeWarp");
  auto W = basis_.get(options.knots(), x.size(2), options.interpolation(), x.options());
  return time_warp(x, sigma().to(x.scalar_type()), eps, W);
}

}  // namespace leaves::augment
