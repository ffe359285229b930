#include "leaves/views/random_views.h"

#include "leaves/augment/jitter.h"
#include "leaves/augment/magnitude_warp.h"
#include "leaves/augment/permutation.h"
#include "leaves/augment/scale.h"
#include "leaves/augment/time_warp.h"

namespace leaves::views {

RandomViewsImpl::RandomViewsImpl(const RandomViewsOptions& options_) : options(options_) { reset(); }

void RandomViewsImpl::reset() {
  const auto& o = options;
  augment::check_option(o.sigma() >= 0 && std::isfinite(o.sigma()), "RandomViews", "sigma", ">= 0", o.sigma());
  augment::check_option(o.max_segments() >= 1, "RandomViews", "max_segments (K)", ">= 1",
                        static_cast<double>(o.max_segments()));
  augment::check_option(o.knots() >= 2, "RandomViews", "knots", ">= 2", static_cast<double>(o.knots()));
}

torch::Tensor RandomViewsImpl::forward(const torch::Tensor& x) {
  augment::check_series(x, "RandomViews");
  const int64_t B = x.size(0), C = x.size(1), k = options.knots();
  auto sigma = torch::full({}, options.sigma(), x.options());
  auto W = basis_.get(k, x.size(2), options.interpolation(), x.options());
  auto v = augment::jitter(x, sigma, torch::randn_like(x));
  v = augment::scale(v, sigma, torch::randn({B, C, 1}, x.options()));
  v = augment::magnitude_warp(v, sigma, torch::randn({B, C, k}, x.options()), W);
  v = augment::time_warp(v, sigma, torch::randn({B, options.per_channel_warp() ? C : 1, k}, x.options()), W);
  return augment::random_permutation(v, options.max_segments());
}

std::vector<std::string> RandomViewsImpl::report_names() const { return {"sigma", "max_segments"}; }

torch::Tensor RandomViewsImpl::report() const {
  return torch::tensor({options.sigma(), static_cast<double>(options.max_segments())}, torch::kDouble);
}

}  // namespace leaves::views
