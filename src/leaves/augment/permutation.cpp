#include "leaves/augment/permutation.h"

#include "leaves/augment/common.h"

namespace leaves::augment {

torch::Tensor permutation_index(const torch::Tensor& counts, const torch::Tensor& keys, int64_t L) {
  // Sort-free: segments are laid out in key order, so output position j lies in
  // the segment of rank r with cum[r] <= j < cum[r + 1] (cum: the lengths of the
  // segments of lower rank) and reads source start[seg_r] + j - cum[r]. One
  // sort over K keys and a search among K bounds per position, instead of a
  // sort of L keys per row.
  const int64_t B = counts.size(0), K = keys.size(1);
  const auto lopts = counts.options().dtype(torch::kLong);
  auto n = counts.to(torch::kLong).view({B, 1});
  auto s = torch::arange(K + 1, lopts).view({1, K + 1});
  auto start = torch::div(s.clamp_max(n) * L + n - 1, n, "floor");  // [B, K + 1]; start[n..K] = L
  auto len = start.narrow(1, 1, K) - start.narrow(1, 0, K);          // [B, K]; 0 for unused slots
  auto slot = s.narrow(1, 0, K);
  auto masked = torch::where(slot < n, keys, torch::full({}, 2.0, keys.options()));
  auto order = masked.argsort(int64_t{1});                           // segment at each rank [B, K]
  auto end = len.gather(1, order).cumsum(1);                         // [B, K], inclusive
  auto j = torch::arange(L, lopts).view({1, L}).expand({B, L}).contiguous();
  auto rank = torch::searchsorted(end, j, /*out_int32=*/false, /*right=*/true);  // [B, L]
  auto seg = order.gather(1, rank);
  auto before = (end - len.gather(1, order)).gather(1, rank);        // positions of lower ranks
  return start.gather(1, seg) + j - before;
}

torch::Tensor apply_permutation(const torch::Tensor& x, const torch::Tensor& index) {
  return x.gather(2, index.unsqueeze(1).expand({x.size(0), x.size(1), x.size(2)}));
}

torch::Tensor random_permutation(const torch::Tensor& x, int64_t K) {
  check_series(x, "random_permutation");
  check_option(K >= 1, "random_permutation", "max_segments", ">= 1", static_cast<double>(K));
  if (K == 1) return x;
  const int64_t B = x.size(0);
  auto counts = torch::randint(1, K + 1, {B}, x.options().dtype(torch::kLong));
  auto keys = torch::rand({B, K}, x.options());
  return apply_permutation(x, permutation_index(counts, keys, x.size(2)));
}

PermutationEstimator parse_permutation_estimator(const std::string& name) {
  if (name == "relaxed") return PermutationEstimator::Relaxed;
  if (name == "straight-through") return PermutationEstimator::StraightThrough;
  throw std::invalid_argument("permutation estimator must be 'relaxed' or 'straight-through', got '" + name + "'");
}

std::string to_string(PermutationEstimator e) {
  return e == PermutationEstimator::Relaxed ? "relaxed" : "straight-through";
}

PermutationImpl::PermutationImpl(const PermutationOptions& options_) : options(options_) { reset(); }

void PermutationImpl::reset() {
  const auto& o = options;
  check_option(o.max_segments() >= 1, "Permutation", "max_segments (K)", ">= 1", static_cast<double>(o.max_segments()));
  check_option(o.init() > 0 && o.init() < 1, "Permutation", "init", "in (0, 1)", o.init());
  check_option(o.temperature() > 0, "Permutation", "temperature", "> 0", o.temperature());
  check_option(o.window() > 0, "Permutation", "window", "> 0", o.window());
  raw = register_parameter("raw", torch::full({}, bounded_init(o.init(), 0.0, 1.0)));
}

torch::Tensor PermutationImpl::max_segments() const {
  if (options.max_segments() == 1) return torch::ones({}, raw.options());
  return bounded(raw, 1.0, static_cast<double>(options.max_segments()));
}

PermutationNoise PermutationImpl::sample_noise(const torch::Tensor& x) const {
  check_series(x, "Permutation");
  const int64_t K = options.max_segments();
  return {torch::rand({x.size(0), K}, x.options()), torch::rand({x.size(0), K}, x.options())};
}

namespace {
// Relaxed-categorical logits over n = 1..K: log sigmoid((k + 1/2 - n) / window).
torch::Tensor count_logits(const torch::Tensor& k, int64_t K, double window) {
  auto n = torch::arange(1, K + 1, k.options());
  return torch::log_sigmoid((k + 0.5 - n) / window);
}
torch::Tensor gumbel(const torch::Tensor& u) {
  auto v = u.clamp(1e-12, 1 - 1e-7);
  return -torch::log(-torch::log(v));
}
}  // namespace

torch::Tensor PermutationImpl::counts(const PermutationNoise& noise) const {
  const int64_t K = options.max_segments();
  torch::NoGradGuard no_grad;
  auto k = max_segments().to(noise.count_u.scalar_type());
  if (options.estimator() == PermutationEstimator::Relaxed) {
    return (count_logits(k, K, options.window()) + gumbel(noise.count_u)).argmax(1) + 1;
  }
  auto soft = 1 + (k - 1) * noise.count_u.select(1, 0);
  return soft.round().clamp(1, K).to(torch::kLong);
}

torch::Tensor PermutationImpl::forward(const torch::Tensor& x) { return transform(x, sample_noise(x)); }

torch::Tensor PermutationImpl::transform(const torch::Tensor& x, const PermutationNoise& noise) {
  check_series(x, "Permutation");
  const int64_t B = x.size(0), L = x.size(2), K = options.max_segments();
  if (noise.count_u.dim() != 2 || noise.count_u.size(0) != B || noise.count_u.size(1) != K ||
      noise.keys.sizes() != noise.count_u.sizes()) {
    throw std::invalid_argument("Permutation: noise must be two [B, K] tensors for the input batch");
  }
  if (K == 1) return x;
  auto n = counts(noise);
  auto view = apply_permutation(x, permutation_index(n, noise.keys, L));
  if (!(torch::GradMode::is_enabled() && raw.requires_grad())) return view;

  auto k = max_segments().to(x.scalar_type());
  if (options.estimator() == PermutationEstimator::StraightThrough) {
    auto soft = (1 + (k - 1) * noise.count_u.select(1, 0)).view({B, 1, 1});
    return view + (soft - soft.detach()) * view.detach();
  }
  // Relaxed: a zero-valued surrogate whose gradient w.r.t. k is
  // sum_n dy_n/dk <grad, P_n(x)>; the value stays exactly P_{n*}(x).
  auto y = torch::softmax((count_logits(k, K, options.window()) + gumbel(noise.count_u)) / options.temperature(), 1);
  auto dy = (y - y.detach()).transpose(0, 1);  // [K, B], zero-valued
  auto surrogate = torch::zeros_like(view);
  {
    auto xd = x.detach();
    for (int64_t c = 1; c <= K; ++c) {
      auto idx = permutation_index(torch::full({B}, c, n.options()), noise.keys, L);
      surrogate = surrogate + dy[c - 1].view({B, 1, 1}) * apply_permutation(xd, idx);
    }
  }
  return view + surrogate;
}

}  // namespace leaves::augment
