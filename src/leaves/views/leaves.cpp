#include "leaves/views/leaves.h"

#include "leaves/augment/common.h"

namespace leaves::views {

std::vector<std::pair<std::string, double>> named_report(const ViewGenerator& g) {
  auto names = g.report_names();
  auto values = g.report().to(torch::kCPU, torch::kDouble).contiguous();
  std::vector<std::pair<std::string, double>> out;
  out.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) out.emplace_back(names[i], values[static_cast<int64_t>(i)].item<double>());
  return out;
}

LeavesImpl::LeavesImpl(const LeavesOptions& options_) : options(options_) { reset(); }

void LeavesImpl::reset() {
  const auto& o = options;
  augment::check_option(o.eta() > 0 && std::isfinite(o.eta()), "LEAVES", "eta", "> 0", o.eta());
  augment::check_option(o.mixture_components() >= 1, "LEAVES", "mixture_components (M)", ">= 1",
                        static_cast<double>(o.mixture_components()));
  augment::check_option(o.max_segments() >= 1, "LEAVES", "max_segments (K)", ">= 1",
                        static_cast<double>(o.max_segments()));
  jitter = register_module("jitter", augment::Jitter(augment::JitterOptions().eta(o.eta()).init(o.init())));
  scale = register_module("scale", augment::Scale(augment::ScaleOptions().eta(o.eta()).init(o.init())));
  magwarp = register_module("magwarp", augment::MagnitudeWarp(augment::MagnitudeWarpOptions()
                                                                  .eta(o.eta())
                                                                  .init(o.init())
                                                                  .knots(o.magwarp_knots())
                                                                  .interpolation(o.magwarp_interpolation())));
  distortion = register_module("distortion", augment::TimeDistortion(augment::TimeDistortionOptions()
                                                                         .components(o.mixture_components())
                                                                         .per_channel(o.per_channel_distortion())
                                                                         .sampling(o.sampling())));
  permutation = register_module(
      "permutation",
      augment::Permutation(augment::PermutationOptions().max_segments(o.max_segments()).estimator(o.perm_estimator())));
}

LeavesNoise LeavesImpl::sample_noise(const torch::Tensor& x) const {
  augment::check_series(x, "LEAVES");
  return {jitter->sample_noise(x), scale->sample_noise(x), magwarp->sample_noise(x), distortion->sample_noise(x),
          permutation->sample_noise(x)};
}

torch::Tensor LeavesImpl::forward(const torch::Tensor& x) { return transform(x, sample_noise(x)); }

torch::Tensor LeavesImpl::transform(const torch::Tensor& x, const LeavesNoise& noise) {
  augment::check_series(x, "LEAVES");
  auto v = jitter->transform(x, noise.jitter);
  v = scale->transform(v, noise.scale);
  v = magwarp->transform(v, noise.magwarp);
  v = distortion->transform(v, noise.distortion);
  v = permutation->transform(v, noise.permutation);
  if (options.normalize()) {
    auto lo = std::get<0>(v.min(2, true));
    auto hi = std::get<0>(v.max(2, true));
    v = (v - lo) / (hi - lo + 1e-8);
  }
  return v;
}

std::vector<std::string> LeavesImpl::report_names() const {
  std::vector<std::string> names{"jitter_sigma", "scale_sigma", "magwarp_sigma", "perm_max_segments"};
  const int64_t M = options.mixture_components();
  for (const char* what : {"weight", "mean", "scale"})
    for (int64_t i = 0; i < M; ++i) names.push_back(std::string("mixture_") + what + "_" + std::to_string(i));
  return names;
}

torch::Tensor LeavesImpl::report() const {
  torch::NoGradGuard no_grad;
  auto scalars = torch::stack({jitter->sigma(), scale->sigma(), magwarp->sigma(), permutation->max_segments()});
  return torch::cat({scalars, distortion->weights(), distortion->means(), distortion->scales()}).detach();
}

}  // namespace leaves::views
