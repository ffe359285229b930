#include "leaves/augment/scale.h"

#include "leaves/augment/common.h"

namespace leaves::augment {

torch::Tensor scale(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& eps) {
  return x * (1 + sigma * eps);
}

ScaleImpl::ScaleImpl(const ScaleOptions& options_) : options(options_) { reset(); }

void ScaleImpl::reset() {
  raw = register_intensity(*this, "Scale", options.eta(), options.init());
}

torch::Tensor ScaleImpl::sigma() const { return bounded(raw, 0.0, options.eta()); }

torch::Tensor ScaleImpl::sample_noise(const torch::Tensor& x) const {
  check_series(x, "Scale");
  return torch::randn({x.size(0), x.size(1), 1}, x.options());
}

torch::Tensor ScaleImpl::forward(const torch::Tensor& x) { return transform(x, sample_noise(x)); }

torch::Tensor ScaleImpl::transform(const torch::Tensor& x, const torch::Tensor& eps) {
  check_series(x, "Scale");
  return scale(x, sigma().to(x.scalar_type()), eps);
}

}  // namespace leaves::augment
