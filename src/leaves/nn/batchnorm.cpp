#include "leaves/nn/batchnorm.h"

#include <algorithm>
#include <atomic>
#include <variant>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "leaves/compat.h"

#include "leaves/engine/batchnorm_act.h"

namespace leaves::nn {

BatchNorm1dImpl::BatchNorm1dImpl(int64_t features_, double eps_, double momentum_)
    : features(features_), eps(eps_), momentum(momentum_) {
  reset();
}

void BatchNorm1dImpl::reset() {
  weight = register_parameter("weight", torch::ones({features}));
  bias = register_parameter("bias", torch::zeros({features}));
  running_mean = register_buffer("running_mean", torch::zeros({features}));
  running_var = register_buffer("running_var", torch::ones({features}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

torch::Tensor BatchNorm1dImpl::forward(const torch::Tensor& x) {
  if ((x.dim() != 3 && x.dim() != 4) || x.size(1) != features) {
    std::ostringstream s;
    s << "BatchNorm1d: expected input [B, " << features << ", L] (or [B, " << features << ", 1, L]), got " << x.sizes();
    throw std::invalid_argument(s.str());
  }
  if (is_training()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  if (!is_training() || !gather) {
    return torch::batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps,
                             at::globalContext().userEnabledCuDNN());
  }
  // Per-rank count, mean and biased variance, in float32 at least.
  auto xf = x.scalar_type() == torch::kDouble ? x : x.to(torch::kFloat);
  std::vector<int64_t> dims{0};  // every dimension but the channels
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  auto var_mean = torch::var_mean(xf, dims, /*unbiased=*/false);
  const double n_local = static_cast<double>(x.numel() / features);
  auto local = torch::cat({torch::full({1}, n_local, xf.options()), std::get<1>(var_mean), std::get<0>(var_mean)})
                   .unsqueeze(0);                                      // [1, 1 + 2C]
  auto all = gather(local);                                             // [W, 1 + 2C]
  auto n = all.narrow(1, 0, 1);                                         // [W, 1]
  auto means = all.narrow(1, 1, features);
  auto vars = all.narrow(1, 1 + features, features);
  auto total = n.sum();
  auto mean = (n * means).sum(0) / total;                               // [C]
  auto var = (n * (vars + (means - mean).pow(2))).sum(0) / total;       // biased, [C]
  {
    torch::NoGradGuard no_grad;
    running_mean.mul_(1 - momentum).add_(mean.detach().to(running_mean.scalar_type()) * momentum);
    auto t = total.detach();
    auto unbiased = var.detach() * (t / (t - 1).clamp_min(1));  // no host synchronisation
    running_var.mul_(1 - momentum).add_(unbiased.to(running_var.scalar_type()) * momentum);
  }
  auto scale = torch::rsqrt(var + eps) * weight.to(var.scalar_type());
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = -1;
  auto y = (xf - mean.view(shape)) * scale.view(shape) + bias.to(var.scalar_type()).view(shape);
  return y.to(x.scalar_type());
}


namespace {

// Whether leaves' CUDA kernel takes this BatchNorm call (engine/batchnorm_act.h).
bool cuda_fusable(const BatchNorm1dImpl& bn, const torch::Tensor& x, const torch::Tensor& residual, bool activate,
                  double negative_slope) {
#ifdef LEAVES_WITH_CUDA_KERNELS
  const auto dtype = x.scalar_type();
  auto fp32_on = [&](const torch::Tensor& t) {
    return t.defined() && t.scalar_type() == torch::kFloat && t.device() == x.device() && t.numel() == x.size(1);
  };
  return bn.is_training() && !bn.gather && x.is_cuda() && engine::channels_last_rows(x) && x.size(1) == bn.features &&
         (dtype == torch::kFloat || dtype == torch::kBFloat16 || dtype == torch::kHalf) &&
         x.numel() / x.size(1) > 1 && x.size(1) <= (int64_t{1} << 30) && fp32_on(bn.weight) && fp32_on(bn.bias) &&
         fp32_on(bn.running_mean) && fp32_on(bn.running_var) && (!activate || negative_slope > 0) &&
         (!residual.defined() ||
          (residual.sizes() == x.sizes() && residual.scalar_type() == dtype && residual.device() == x.device()));
#else
  (void)bn, (void)x, (void)residual, (void)activate, (void)negative_slope;
  return false;
#endif
}

}  // namespace

torch::Tensor max_pool2(const torch::Tensor& x, bool fused) {
  const auto dtype = x.scalar_type();
  if (fused && x.dim() == 3 && x.size(2) >= 2 && x.device().is_cpu() &&
      (dtype == torch::kFloat || dtype == torch::kDouble) && !compat::autocast_on(torch::kCPU)) {
    return engine::max_pool2_fused(x);
  }
  return torch::max_pool1d(x, 2);
}

bool batch_norm_act_fusable(const BatchNorm1dImpl& bn, const torch::Tensor& x, const torch::Tensor& residual,
                            bool activate, double negative_slope) {
  if (x.is_cuda()) return cuda_fusable(bn, x, residual, activate, negative_slope);
  const auto dtype = x.scalar_type();
  return bn.is_training() && !bn.gather && x.dim() == 3 && x.size(1) == bn.features && x.device().is_cpu() &&
         (dtype == torch::kFloat || dtype == torch::kDouble) && x.size(0) * x.size(2) > 1 &&
         bn.weight.scalar_type() == dtype && bn.bias.scalar_type() == dtype && bn.weight.device().is_cpu() &&
         !compat::autocast_on(torch::kCPU) && (!activate || negative_slope > 0) &&
         (!residual.defined() || (residual.sizes() == x.sizes() && residual.scalar_type() == dtype &&
                                  residual.device().is_cpu()));
}

namespace {
torch::Tensor batch_norm_act_impl(BatchNorm1d& bn, const torch::Tensor& x, const torch::Tensor& residual,
                                  bool activate, double negative_slope, bool fused) {
  if (fused && batch_norm_act_fusable(*bn, x, residual, activate, negative_slope)) {
    {
      torch::NoGradGuard no_grad;
      bn->num_batches_tracked.add_(1);
    }
    return engine::batch_norm_act_fused(x, {bn->weight, bn->bias, bn->running_mean, bn->running_var, bn->momentum, bn->eps},
                                        residual, activate, negative_slope);
  }
  auto y = bn(x);
  if (residual.defined()) y = y + residual;
  if (activate) y = torch::leaky_relu(y, negative_slope);
  return y;
}
}  // namespace

torch::Tensor batch_norm_act(BatchNorm1d& bn, const torch::Tensor& x, const torch::Tensor& residual, bool activate,
                             double negative_slope, bool fused, const torch::Tensor& input_bias) {
  if (!input_bias.defined()) return batch_norm_act_impl(bn, x, residual, activate, negative_slope, fused);
  if (input_bias.dim() != 1 || input_bias.size(0) != bn->features) {
    std::ostringstream s;
    s << "batch_norm_act: input_bias must be [" << bn->features << "], got " << input_bias.sizes();
    throw std::invalid_argument(s.str());
  }
  if (!bn->is_training()) {
    std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
    shape[1] = -1;
    return batch_norm_act_impl(bn, x + input_bias.to(x.scalar_type()).view(shape), residual, activate,
                               negative_slope, fused);
  }
  auto y = batch_norm_act_impl(bn, x, residual, activate, negative_slope, fused);
  torch::NoGradGuard no_grad;
  // The batch mean of x + b is mean(x) + b: the running mean, updated above
  // with mean(x), gets the rest (one [C] operation, no pass over x). Through
  // data(), whose version counter is its own: the normalisation's autograd
  // node keeps the running mean for its backward (which, with batch
  // statistics, does not read it) and would refuse a changed version.
  bn->running_mean.data().add_(input_bias.detach().to(bn->running_mean.scalar_type()), bn->momentum);
  return y;
}

bool stem_fusable(const torch::nn::Conv1d& conv, const BatchNorm1dImpl& bn, const torch::Tensor& x,
                  double negative_slope) {
#ifdef LEAVES_WITH_CUDA_KERNELS
  const auto& o = conv->options;
  const auto& w = conv->weight;
  // The padding is a variant: c10::variant in LibTorch 1.x, std::variant in
  // 2.x; with std::get_if visible, argument-dependent lookup finds either.
  using std::get_if;
  const auto* padding = get_if<torch::ExpandingArray<1>>(&o.padding());
  auto fp32_on = [&](const torch::Tensor& t, int64_t n) {
    return t.defined() && t.scalar_type() == torch::kFloat && t.device() == x.device() && t.numel() == n;
  };
  if (!(x.is_cuda() && x.scalar_type() == torch::kFloat && engine::channels_last_rows(x) && x.size(3) >= 2 && w.dim() == 3 &&
        w.size(2) == 3 && w.size(1) == x.size(1) && padding && (*padding)->at(0) == 1 && o.stride()->at(0) == 1 &&
        o.dilation()->at(0) == 1 && o.groups() == 1 && bn.is_training() && !bn.gather && bn.features == w.size(0) &&
        negative_slope > 0)) {
    return false;
  }
  const int64_t C = w.size(0);
  return fp32_on(w, C * x.size(1) * 3) && fp32_on(conv->bias, C) && fp32_on(bn.weight, C) && fp32_on(bn.bias, C) &&
         fp32_on(bn.running_mean, C) && fp32_on(bn.running_var, C) && x.size(1) <= 4096 && C <= 4096 &&
         engine::stem_kernels_support(x.size(1), C);
#else
  (void)conv, (void)bn, (void)x, (void)negative_slope;
  return false;
#endif
}

torch::Tensor fused_stem(torch::nn::Conv1d& conv, BatchNorm1d& bn, const torch::Tensor& x, double negative_slope) {
  if (!stem_fusable(conv, *bn, x, negative_slope)) {
    throw std::invalid_argument("fused_stem: these arguments take the separate ops (see stem_fusable)");
  }
#ifdef LEAVES_WITH_CUDA_KERNELS
  {
    torch::NoGradGuard no_grad;
    bn->num_batches_tracked.add_(1);
  }
  return engine::stem_fused(x, conv->weight, conv->bias,
                            {bn->weight, bn->bias, bn->running_mean, bn->running_var, bn->momentum, bn->eps}, negative_slope);
#else
  return {};
#endif
}

int64_t batch_norm_act_calls() { return engine::fused_batch_norm_calls(); }

bool batch_norm_act_cuda_built() { return engine::cuda_kernels_built(); }

void sync_batchnorm(torch::nn::Module& module, const BatchNorm1dImpl::Gather& gather) {
  for (const auto& m : module.modules(/*include_self=*/true))
    if (auto* bn = m->as<BatchNorm1dImpl>()) bn->gather = gather;
}

void recompute_batchnorm_statistics(torch::nn::Module& module, const std::function<void(int64_t)>& run_batch,
                                    int64_t batches) {
  std::vector<std::pair<BatchNorm1dImpl*, double>> saved;
  for (const auto& m : module.modules(/*include_self=*/true))
    if (auto* bn = m->as<BatchNorm1dImpl>()) saved.emplace_back(bn, bn->momentum);
  struct Restore {
    std::vector<std::pair<BatchNorm1dImpl*, double>>& saved;
    ~Restore() {
      for (auto& [bn, momentum] : saved) bn->momentum = momentum;
    }
  } restore{saved};
  for (int64_t i = 0; i < batches; ++i) {
    for (auto& entry : saved) entry.first->momentum = 1.0 / static_cast<double>(i + 1);
    run_batch(i);
  }
}

}  // namespace leaves::nn
