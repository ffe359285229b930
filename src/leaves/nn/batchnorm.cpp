#include "leaves/nn/batchnorm.h"

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

void sync_batchnorm(torch::nn::Module& module, const BatchNorm1dImpl::Gather& gather) {
  for (const auto& m : module.modules(/*include_self=*/true))
    if (auto* bn = m->as<BatchNorm1dImpl>()) bn->gather = gather;
}

}  // namespace leaves::nn
