#include "leaves/augment/permutation.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "leaves/augment/common.h"
#include "leaves/engine/permutation_rows.h"

#ifdef LEAVES_WITH_CUDA_KERNELS
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "leaves/engine/cuda/permutation.h"
#endif

namespace leaves::augment {

namespace {

// Whether the index and the relaxed products use leaves' own code (loops on
// the CPU, kernels on CUDA) or LibTorch's operators; LEAVES_PERMUTATION_KERNELS=0
// in the environment starts with the operators.
std::atomic<bool>& own_code() {
  static std::atomic<bool> on{[] {
    const char* v = std::getenv("LEAVES_PERMUTATION_KERNELS");
    return v == nullptr || std::string(v) != "0";
  }()};
  return on;
}

void check_index_args(const torch::Tensor& counts, const torch::Tensor& keys, int64_t L) {
  if (counts.dim() != 1 || counts.scalar_type() != torch::kLong || keys.dim() != 2 ||
      keys.size(0) != counts.size(0) || keys.size(1) < 1 || !keys.is_floating_point() || L < 1 ||
      counts.device() != keys.device()) {
    std::ostringstream s;
    s << "permutation_index: expected int64 counts [B], floating keys [B, K >= 1] on one device and a length >= 1, "
         "got counts "
      << counts.sizes() << " " << counts.dtype() << ", keys " << keys.sizes() << " " << keys.dtype() << ", length "
      << L;
    throw std::invalid_argument(s.str());
  }
}

// The index by LibTorch's operators (any device): the reference of the tests,
// and what a GPU without leaves' kernels runs.
torch::Tensor permutation_index_ops(const torch::Tensor& counts, const torch::Tensor& keys, int64_t L) {
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

// Sources of row b's L positions with n segments (permutation_rows.h).
template <typename T>
void source_row(int64_t n, const T* keys, int64_t L, std::vector<int>& order, std::vector<int64_t>& src,
                std::vector<int64_t>& end, int64_t* out) {
  engine::rows::segment_layout(n, keys, L, order.data(), src.data(), end.data());
  for (int64_t j = 0; j < L; ++j) out[j] = engine::rows::source_of(j, n, src.data(), end.data());
}

// On the CPU every count is checked (on a GPU that would wait for the device).
void check_counts_cpu(const torch::Tensor& counts, int64_t K) {
  auto c = counts.contiguous();
  const int64_t* cp = c.data_ptr<int64_t>();
  for (int64_t b = 0; b < c.size(0); ++b) {
    if (cp[b] < 1 || cp[b] > K) {
      throw std::invalid_argument("permutation_index: segment count " + std::to_string(cp[b]) + " of row " +
                                  std::to_string(b) + " is outside [1, " + std::to_string(K) + "]");
    }
  }
}

torch::Tensor permutation_index_cpu(const torch::Tensor& counts, const torch::Tensor& keys, int64_t L) {
  const int64_t B = counts.size(0), K = keys.size(1);
  auto c = counts.contiguous();
  auto k = keys.contiguous();
  const int64_t* cp = c.data_ptr<int64_t>();
  auto out = torch::empty({B, L}, c.options());
  int64_t* op = out.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, k.scalar_type(), "permutation_index", [&] {
    const scalar_t* kp = k.data_ptr<scalar_t>();
    at::parallel_for(0, B, std::max<int64_t>(1, 4096 / L), [&](int64_t b0, int64_t b1) {
      std::vector<int> order(K);
      std::vector<int64_t> src(K), end(K);
      for (int64_t b = b0; b < b1; ++b) source_row(cp[b], kp + b * K, L, order, src, end, op + b * L);
    });
  });
  return out;
}

// out[b, n - 1] = <grad[b], P_n(x)[b]> for n = 1..K, summed in double.
torch::Tensor relaxed_products_cpu(const torch::Tensor& grad, const torch::Tensor& x, const torch::Tensor& keys) {
  const int64_t B = x.size(0), C = x.size(1), L = x.size(2), K = keys.size(1);
  auto g = grad.contiguous();
  auto v = x.contiguous();
  auto k = keys.contiguous();
  auto out = torch::empty({B, K}, x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, v.scalar_type(), "relaxed_permutation_products", [&] {
    const scalar_t *gp = g.data_ptr<scalar_t>(), *vp = v.data_ptr<scalar_t>(), *kp = k.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    at::parallel_for(0, B * K, std::max<int64_t>(1, 16384 / (C * L)), [&](int64_t i0, int64_t i1) {
      std::vector<int> order(K);
      std::vector<int64_t> src(K), end(K), idx(L);
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t b = i / K, n = i % K + 1;
        source_row(n, kp + b * K, L, order, src, end, idx.data());
        double acc = 0;
        for (int64_t c = 0; c < C; ++c) {
          const scalar_t* gr = gp + (b * C + c) * L;
          const scalar_t* vr = vp + (b * C + c) * L;
          for (int64_t j = 0; j < L; ++j) acc += static_cast<double>(gr[j]) * static_cast<double>(vr[idx[j]]);
        }
        op[i] = static_cast<scalar_t>(acc);
      }
    });
  });
  return out;
}

#ifdef LEAVES_WITH_CUDA_KERNELS
bool kernels_take(const torch::Tensor& t) {
  return t.is_cuda() && (t.scalar_type() == torch::kFloat || t.scalar_type() == torch::kDouble);
}
engine::cuda::Real real_of(const torch::Tensor& t) {
  return t.scalar_type() == torch::kDouble ? engine::cuda::Real::Double : engine::cuda::Real::Float;
}
void check_cuda(const char* error, const char* what) {
  if (error != nullptr) throw std::runtime_error(std::string("permutation CUDA kernel (") + what + "): " + error);
}
#endif

// The relaxed estimator's products by LibTorch's operators: K indices,
// gathers, products and sums (any device).
torch::Tensor relaxed_products_ops(const torch::Tensor& grad, const torch::Tensor& x, const torch::Tensor& keys) {
  const int64_t B = x.size(0), K = keys.size(1);
  std::vector<torch::Tensor> columns;
  for (int64_t n = 1; n <= K; ++n) {
    auto idx = permutation_index_ops(torch::full({B}, n, keys.options().dtype(torch::kLong)), keys, x.size(2));
    columns.push_back((grad * apply_permutation(x, idx)).sum({1, 2}));
  }
  return torch::stack(columns, 1);
}

// The relaxed estimator's products on any device: leaves' kernel on CUDA, the
// loops on the CPU, else LibTorch's operators (K indices, gathers and sums).
torch::Tensor relaxed_products(const torch::Tensor& grad, const torch::Tensor& x, const torch::Tensor& keys) {
  const bool own = own_code().load();
  if (own && x.is_cpu()) return relaxed_products_cpu(grad, x, keys);
#ifdef LEAVES_WITH_CUDA_KERNELS
  if (own && kernels_take(x) && keys.scalar_type() == x.scalar_type()) {
    const c10::cuda::CUDAGuard guard(x.device());
    auto g = grad.contiguous();
    auto v = x.contiguous();
    auto k = keys.contiguous();
    auto out = torch::empty({x.size(0), keys.size(1)}, x.options());
    check_cuda(engine::cuda::relaxed_permutation_products(g.data_ptr(), v.data_ptr(), k.data_ptr(), real_of(v), v.size(0),
                                                  v.size(1), v.size(2), k.size(1), out.data_ptr(),
                                                  c10::cuda::getCurrentCUDAStream(x.device().index()).stream()),
               "products");
    return out;
  }
#endif
  return relaxed_products_ops(grad, x, keys);
}

// The relaxed estimator's straight-through step (permutation.h): the value is
// the view of the drawn count; the gradient reaching the relaxed weights y is
// d loss / d y_n = <grad, P_n(x)>, computed in the backward only (the forward
// pays nothing for the K other permutations); the view's own gradient passes
// through unchanged.
struct RelaxedPermutationFn : public torch::autograd::Function<RelaxedPermutationFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& view, const torch::Tensor& y,
                               const torch::Tensor& x, const torch::Tensor& keys) {
    ctx->save_for_backward({x, keys});
    ctx->saved_data["y_dtype"] = static_cast<int64_t>(y.scalar_type());
    return view;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& grad = grads[0];
    torch::Tensor dy;
    if (grad.defined()) {
      dy = relaxed_products(grad.to(saved[0].scalar_type()), saved[0], saved[1])
               .to(static_cast<torch::ScalarType>(ctx->saved_data["y_dtype"].toInt()));
    }
    return {grad, dy, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor permutation_index(const torch::Tensor& counts, const torch::Tensor& keys, int64_t L) {
  check_index_args(counts, keys, L);
  if (keys.is_cpu()) check_counts_cpu(counts, keys.size(1));
  const bool own = own_code().load();
  if (own && keys.is_cpu()) return permutation_index_cpu(counts, keys, L);
#ifdef LEAVES_WITH_CUDA_KERNELS
  if (own && kernels_take(keys)) {
    const c10::cuda::CUDAGuard guard(keys.device());
    auto c = counts.contiguous();
    auto k = keys.contiguous();
    auto out = torch::empty({c.size(0), L}, c.options());
    check_cuda(engine::cuda::permutation_index(c.data_ptr<int64_t>(), k.data_ptr(), real_of(k), c.size(0), k.size(1), L,
                                       out.data_ptr<int64_t>(),
                                       c10::cuda::getCurrentCUDAStream(keys.device().index()).stream()),
               "index");
    return out;
  }
#endif
  return permutation_index_ops(counts, keys, L);
}

namespace {
void check_products_args(const torch::Tensor& grad, const torch::Tensor& x, const torch::Tensor& keys,
                         const char* who) {
  check_series(x, who);
  if (grad.sizes() != x.sizes() || keys.dim() != 2 || keys.size(0) != x.size(0) || keys.size(1) < 1 ||
      !keys.is_floating_point() || grad.device() != x.device() || keys.device() != x.device()) {
    std::ostringstream s;
    s << who << ": expected grad and x [B, C, L] and floating keys [B, K] on one device, got grad " << grad.sizes()
      << ", x " << x.sizes() << ", keys " << keys.sizes();
    throw std::invalid_argument(s.str());
  }
}
}  // namespace

torch::Tensor relaxed_permutation_products(const torch::Tensor& grad, const torch::Tensor& x,
                                           const torch::Tensor& keys) {
  check_products_args(grad, x, keys, "relaxed_permutation_products");
  return relaxed_products(grad.to(x.scalar_type()), x, keys.to(x.scalar_type()));
}

torch::Tensor relaxed_permutation_products_reference(const torch::Tensor& grad, const torch::Tensor& x,
                                                     const torch::Tensor& keys) {
  check_products_args(grad, x, keys, "relaxed_permutation_products_reference");
  return relaxed_products_ops(grad.to(x.scalar_type()), x, keys);
}

void set_permutation_kernels(bool on) { own_code().store(on); }
bool permutation_kernels() { return own_code().load(); }

torch::Tensor permutation_index_reference(const torch::Tensor& counts, const torch::Tensor& keys, int64_t L) {
  check_index_args(counts, keys, L);
  if (keys.is_cpu()) check_counts_cpu(counts, keys.size(1));
  return permutation_index_ops(counts, keys, L);
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
  if (name == "relaxed-bernoulli") return PermutationEstimator::RelaxedBernoulli;
  throw std::invalid_argument("permutation estimator must be 'relaxed', 'relaxed-bernoulli' or 'straight-through', got '" +
                              name + "'");
}

std::string to_string(PermutationEstimator e) {
  return e == PermutationEstimator::Relaxed          ? "relaxed"
         : e == PermutationEstimator::RelaxedBernoulli ? "relaxed-bernoulli"
                                                       : "straight-through";
}

PermutationImpl::PermutationImpl(const PermutationOptions& options_) : options(options_) { reset(); }

void PermutationImpl::reset() {
  const auto& o = options;
  check_option(o.max_segments() >= 1, "Permutation", "max_segments (K)", ">= 1", static_cast<double>(o.max_segments()));
  check_option(o.init() > 0 && o.init() < 1, "Permutation", "init", "in (0, 1)", o.init());
  check_option(o.temperature() > 0, "Permutation", "temperature", "> 0", o.temperature());
  check_option(o.window() > 0, "Permutation", "window", "> 0", o.window());
  check_option(o.bernoulli_temperature() > 0, "Permutation", "bernoulli_temperature", "> 0", o.bernoulli_temperature());
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
// The RelaxedBernoulli estimator's cut logits [B, K - 1]: log p_i - log(1 - p_i)
// + log u - log(1 - u), p_i = P(n > i) under the window weights, u [B] shared.
torch::Tensor cut_logits(const torch::Tensor& k, int64_t K, double window, const torch::Tensor& u) {
  auto w = torch::softmax(count_logits(k, K, window), 0);             // P(n = 1..K)
  auto p = (1 - torch::cumsum(w, 0)).narrow(0, 0, K - 1).clamp(1e-7, 1 - 1e-7);  // P(n > i), i = 1..K-1
  auto v = u.clamp(1e-7, 1 - 1e-7).unsqueeze(1);
  return (torch::log(p) - torch::log1p(-p)) + (torch::log(v) - torch::log1p(-v));
}
}  // namespace

torch::Tensor PermutationImpl::counts(const PermutationNoise& noise) const {
  const int64_t K = options.max_segments();
  torch::NoGradGuard no_grad;
  auto k = max_segments().to(noise.count_u.scalar_type());
  if (options.estimator() == PermutationEstimator::Relaxed) {
    return (count_logits(k, K, options.window()) + gumbel(noise.count_u)).argmax(1) + 1;
  }
  if (options.estimator() == PermutationEstimator::RelaxedBernoulli) {  // the hard cuts: u > 1 - p_i
    return (cut_logits(k, K, options.window(), noise.count_u.select(1, 0)) > 0).sum(1) + 1;
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
  // Relaxed: the value stays exactly P_{n*}(x); the gradient w.r.t. k is
  // sum_n dy_n/dk <grad, P_n(x)>, the K products computed in the backward.
  torch::Tensor y;
  if (options.estimator() == PermutationEstimator::RelaxedBernoulli) {
    // y_n = b_{n-1} - b_n, b_0 = 1, b_K = 0: nested relaxed cuts as weights over n.
    auto b = torch::sigmoid(cut_logits(k, K, options.window(), noise.count_u.select(1, 0)) /
                            options.bernoulli_temperature());
    auto bb = torch::cat({torch::ones({B, 1}, b.options()), b, torch::zeros({B, 1}, b.options())}, 1);
    y = bb.narrow(1, 0, K) - bb.narrow(1, 1, K);
  } else {
    y = torch::softmax((count_logits(k, K, options.window()) + gumbel(noise.count_u)) / options.temperature(), 1);
  }
  return RelaxedPermutationFn::apply(view, y, x.detach(), noise.keys.to(x.scalar_type()));
}

}  // namespace leaves::augment
