#include "leaves/augment/time_distortion.h"

#include "leaves/augment/common.h"

namespace leaves::augment {

TimeDistortionSampling parse_time_distortion_sampling(const std::string& name) {
  if (name == "ancestral") return TimeDistortionSampling::Ancestral;
  if (name == "inverse-cdf") return TimeDistortionSampling::InverseCdf;
  throw std::invalid_argument("time distortion sampling must be 'ancestral' or 'inverse-cdf', got '" + name + "'");
}

std::string to_string(TimeDistortionSampling s) {
  return s == TimeDistortionSampling::Ancestral ? "ancestral" : "inverse-cdf";
}

torch::Tensor mixture_cdf(const torch::Tensor& z, const torch::Tensor& w, const torch::Tensor& mu,
                          const torch::Tensor& s) {
  auto u = (z.unsqueeze(-1) - mu) / s;
  return (w * 0.5 * (1 + torch::erf(u * M_SQRT1_2))).sum(-1);
}

torch::Tensor mixture_pdf(const torch::Tensor& z, const torch::Tensor& w, const torch::Tensor& mu,
                          const torch::Tensor& s) {
  auto u = (z.unsqueeze(-1) - mu) / s;
  return (w * torch::exp(-0.5 * u * u) / (s * std::sqrt(2 * M_PI))).sum(-1);
}

torch::Tensor time_distort(const torch::Tensor& x, const torch::Tensor& lambda) {
  check_series(x, "TimeDistortion");
  const double half_span = 0.5 * static_cast<double>(x.size(2) - 1);
  return resample_linear(x, (lambda + 1) * half_span);
}

TimeDistortionImpl::TimeDistortionImpl(const TimeDistortionOptions& options_) : options(options_) { reset(); }

void TimeDistortionImpl::reset() {
  const int64_t M = options.components();
  check_option(M >= 1, "TimeDistortion", "components (M)", ">= 1", static_cast<double>(M));
  check_option(options.min_scale() > 0, "TimeDistortion", "min_scale", "> 0", options.min_scale());
  std::vector<float> m(M), r(M);
  for (int64_t i = 0; i < M; ++i) {
    const double c = -1.0 + (2.0 * i + 1.0) / M;   // bin centre in [-1, 1]
    const double s = (1.0 / M) / (1.0 - c * c);     // half a bin width through atanh'
    m[i] = static_cast<float>(std::atanh(c));
    const double v = std::max(s - options.min_scale(), 1e-6);
    r[i] = static_cast<float>(v > 20 ? v : std::log(std::expm1(v)));  // softplus^{-1}
  }
  logits = register_parameter("logits", torch::zeros({M}));
  mu = register_parameter("mu", torch::tensor(m));
  rho = register_parameter("rho", torch::tensor(r));
}

torch::Tensor TimeDistortionImpl::weights() const { return torch::softmax(logits, 0); }
torch::Tensor TimeDistortionImpl::means() const { return mu; }
torch::Tensor TimeDistortionImpl::scales() const { return torch::softplus(rho) + options.min_scale(); }

TimeDistortionNoise TimeDistortionImpl::sample_noise(const torch::Tensor& x) const {
  check_series(x, "TimeDistortion");
  const std::vector<int64_t> shape{x.size(0), options.per_channel() ? x.size(1) : 1, x.size(2)};
  TimeDistortionNoise noise;
  if (options.sampling() == TimeDistortionSampling::Ancestral) {
    noise.component_u = torch::rand(shape, x.options());
    noise.eps = torch::randn(shape, x.options());
  } else {
    noise.quantile_u = torch::rand(shape, x.options());
  }
  return noise;
}

torch::Tensor TimeDistortionImpl::locations(const TimeDistortionNoise& noise) const {
  const bool ancestral = noise.component_u.defined();
  const auto& ref = ancestral ? noise.component_u : noise.quantile_u;
  if (!ref.defined()) throw std::invalid_argument("TimeDistortion: noise holds no draws");
  const auto dtype = ref.scalar_type();
  auto w = weights().to(dtype), m = means().to(dtype), s = scales().to(dtype);
  torch::Tensor z;
  {
    torch::NoGradGuard no_grad;
    if (ancestral) {
      auto cdf = w.cumsum(0);
      auto comp = torch::searchsorted(cdf, ref.contiguous()).clamp_max(m.size(0) - 1);
      z = m.index_select(0, comp.flatten()).view(ref.sizes()) +
          s.index_select(0, comp.flatten()).view(ref.sizes()) * noise.eps;
    } else {
      // Bisection on F(z) = u inside a bracket that holds all but ~1e-30 of the mass.
      auto lo = torch::full_like(ref, (m - 12 * s).min().item<double>());
      auto hi = torch::full_like(ref, (m + 12 * s).max().item<double>());
      const int iters = dtype == torch::kDouble ? 80 : 40;
      for (int i = 0; i < iters; ++i) {
        auto mid = 0.5 * (lo + hi);
        auto below = mixture_cdf(mid, w, m, s) < ref;
        lo = torch::where(below, mid, lo);
        hi = torch::where(below, hi, mid);
      }
      z = 0.5 * (lo + hi);
    }
  }
  if (torch::GradMode::is_enabled() && (logits.requires_grad() || mu.requires_grad() || rho.requires_grad())) {
    // Implicit reparameterisation: value z, gradient -dF/dtheta / p.
    auto F = mixture_cdf(z, w, m, s);
    auto p = mixture_pdf(z, w.detach(), m.detach(), s.detach()).clamp_min(1e-30);
    z = z - (F - F.detach()) / p;
  }
  return std::get<0>(torch::tanh(z).sort(-1));
}

torch::Tensor TimeDistortionImpl::forward(const torch::Tensor& x) { return transform(x, sample_noise(x)); }

torch::Tensor TimeDistortionImpl::transform(const torch::Tensor& x, const TimeDistortionNoise& noise) {
  check_series(x, "TimeDistortion");
  auto lambda = locations(noise);
  if (lambda.size(0) != x.size(0) || lambda.size(2) != x.size(2) ||
      (lambda.size(1) != 1 && lambda.size(1) != x.size(1))) {
    throw std::invalid_argument("TimeDistortion: noise shape does not fit the input batch");
  }
  return time_distort(x, lambda);
}

}  // namespace leaves::augment
