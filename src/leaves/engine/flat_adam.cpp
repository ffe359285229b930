#include "leaves/engine/flat_adam.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <type_traits>

namespace leaves::engine {

double lr_factor(const std::string& schedule, int64_t step, int64_t total, int64_t warmup) {
  if (schedule != "cosine" && schedule != "constant") {
    throw std::invalid_argument("learning-rate schedule must be cosine or constant, got '" + schedule + "'");
  }
  if (warmup > 0 && step < warmup) return static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (schedule == "constant" || total <= warmup) return 1.0;
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(total - warmup));
  return 0.5 * (1.0 + std::cos(M_PI * progress));
}

FlatAdam::FlatAdam(std::vector<torch::Tensor> params, Options options)
    : params_(std::move(params)), options_(options) {
  if (!(options_.lr > 0) || !(options_.beta1 >= 0 && options_.beta1 < 1) || !(options_.beta2 >= 0 && options_.beta2 < 1) ||
      !(options_.eps > 0) || !(options_.weight_decay >= 0)) {
    throw std::invalid_argument("FlatAdam: need lr > 0, 0 <= beta1, beta2 < 1, eps > 0 and weight decay >= 0");
  }
  torch::TensorOptions opts = torch::TensorOptions().dtype(torch::kFloat);
  int64_t total = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    if (i == 0) {
      opts = p.options().requires_grad(false);
    } else if (p.scalar_type() != params_[0].scalar_type() || p.device() != params_[0].device()) {
      throw std::invalid_argument("FlatAdam: all parameters must share one dtype and device");
    }
    if (!p.is_floating_point()) throw std::invalid_argument("FlatAdam: parameters must be floating-point");
    offsets_.push_back(total);
    total += p.numel();
  }
  flat_param_ = torch::zeros({total}, opts);
  flat_grad_ = torch::zeros({total}, opts);
  exp_avg_ = torch::zeros({total}, opts);
  exp_avg_sq_ = torch::zeros({total}, opts);
  step_ = torch::zeros({}, opts.dtype(torch::kDouble));
  lr_ = torch::full({}, options_.lr, opts.dtype(torch::kDouble));
  rebind();
}

void FlatAdam::rebind() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    const int64_t n = p.numel();
    auto value = flat_param_.narrow(0, offsets_[i], n).view(p.sizes());
    auto grad = flat_grad_.narrow(0, offsets_[i], n).view(p.sizes());
    if (p.data_ptr() != value.data_ptr()) {
      value.copy_(p);
      p.set_data(value);
    }
    if (p.grad().defined() && p.grad().data_ptr() != grad.data_ptr()) grad.copy_(p.grad());
    if (!p.grad().defined() || p.grad().data_ptr() != grad.data_ptr()) p.mutable_grad() = grad;
  }
}

bool FlatAdam::views_intact() const {
  // Host-side pointer comparisons only: no device work, no synchronisation.
  const auto* base_p = static_cast<const char*>(flat_param_.data_ptr());
  const auto* base_g = static_cast<const char*>(flat_grad_.data_ptr());
  const auto size = static_cast<int64_t>(flat_param_.element_size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    if (p.data_ptr() != base_p + offsets_[i] * size) return false;
    if (!p.grad().defined() || p.grad().data_ptr() != base_g + offsets_[i] * size) return false;
  }
  return true;
}

void FlatAdam::zero_grad() {
  if (!views_intact()) rebind();
  flat_grad_.zero_();
}

void FlatAdam::step() {
  if (!views_intact()) rebind();
  torch::NoGradGuard no_grad;
  const auto& o = options_;
  step_.add_(1);
  exp_avg_.lerp_(flat_grad_, 1 - o.beta1);
  exp_avg_sq_.mul_(o.beta2).addcmul_(flat_grad_, flat_grad_, 1 - o.beta2);
  auto bc1 = 1 - torch::pow(o.beta1, step_);  // 0-dim double tensors on the device
  auto bc2 = 1 - torch::pow(o.beta2, step_);
  auto denom = (exp_avg_sq_.sqrt() / bc2.sqrt()).add_(o.eps);
  if (o.weight_decay > 0) flat_param_.mul_(1 - lr_ * o.weight_decay);
  flat_param_.sub_(exp_avg_ / denom * (lr_ / bc1));
}

void FlatAdam::set_lr(double lr) {
  if (!(lr >= 0) || !std::isfinite(lr)) throw std::invalid_argument("FlatAdam: learning rate must be finite and >= 0");
  lr_.fill_(lr);
}

int64_t FlatAdam::steps() const { return static_cast<int64_t>(step_.item<double>()); }

void FlatAdam::save(torch::serialize::OutputArchive& archive) const {
  archive.write("format", torch::tensor(int64_t{1}));
  archive.write("step", step_.to(torch::kCPU));
  archive.write("exp_avg", exp_avg_);
  archive.write("exp_avg_sq", exp_avg_sq_);
}

namespace {
// The key of a parameter in torch::optim::Optimizer::state(): the address of
// its TensorImpl, printed (LibTorch 1.13) or as it is (later versions).
template <typename Map>
typename Map::key_type adam_state_key(const torch::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << p.unsafeGetTensorImpl();
    return s.str();
  } else {
    return Key(p.unsafeGetTensorImpl());
  }
}
}  // namespace

void FlatAdam::load_torch_adam(torch::serialize::InputArchive& archive) {
  torch::optim::Adam legacy(params_, torch::optim::AdamOptions(options_.lr));
  try {
    legacy.load(archive);
  } catch (const c10::Error& e) {
    throw std::invalid_argument(std::string("optimizer state does not fit this model: ") + e.what_without_backtrace());
  }
  using Map = std::decay_t<decltype(legacy.state())>;
  torch::NoGradGuard no_grad;
  int64_t steps = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto it = legacy.state().find(adam_state_key<Map>(params_[i]));
    if (it == legacy.state().end()) continue;  // never updated
    const auto& st = static_cast<const torch::optim::AdamParamState&>(*it->second);
    const int64_t n = params_[i].numel();
    exp_avg_.narrow(0, offsets_[i], n).copy_(st.exp_avg().reshape({-1}));
    exp_avg_sq_.narrow(0, offsets_[i], n).copy_(st.exp_avg_sq().reshape({-1}));
    steps = std::max(steps, st.step());
  }
  step_.fill_(static_cast<double>(steps));
}

void FlatAdam::load(torch::serialize::InputArchive& archive) {
  torch::Tensor format, step, m, v;
  if (!archive.try_read("format", format)) {
    // Checkpoints written before the flat optimizer hold torch::optim::Adam's state.
    load_torch_adam(archive);
    return;
  }
  if (!archive.try_read("exp_avg", m)) throw std::invalid_argument("optimizer state without exp_avg");
  archive.read("step", step);
  archive.read("exp_avg_sq", v);
  if (m.numel() != exp_avg_.numel() || v.numel() != exp_avg_sq_.numel()) {
    throw std::invalid_argument("optimizer state holds " + std::to_string(m.numel()) + " values, the model has " +
                                std::to_string(exp_avg_.numel()));
  }
  torch::NoGradGuard no_grad;
  exp_avg_.copy_(m);
  exp_avg_sq_.copy_(v);
  step_.copy_(step.to(torch::kDouble).reshape({}));
}

}  // namespace leaves::engine
