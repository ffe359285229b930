#include "leaves/augment/jitter.h"

#include "leaves/augment/common.h"

namespace leaves::augment {

torch::Tensor jitter(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& eps) {
  return x + sigma * eps;
}

JitterImpl::JitterImpl(const JitterOptions& options_) : options(options_) { reset(); }

void JitterImpl::reset() {
  raw = register_intensity(*this, "Jitter", options.eta(), options.init());
}

torch::Tensor JitterImpl::sigma() const { return bounded(raw, 0.0, options.eta()); }

torch::Tensor JitterImpl::sample_noise(const torch::Tensor& x) const {
  check_series(x, "Jitter");
  return torch::randn_like(x);
}

torch::Tensor JitterImpl::forward(const torch::Tensor& x) { return transform(x, sample_noise(x)); }

torch::Tensor JitterImpl::transform(const torch::Tensor& x, const torch::Tensor& eps) {
  check_series(x, "Jitter");
  return jitter(x, sigma().to(x.scalar_type()), eps);
}

}  // namespace leaves::augment
