#include "leaves/views/viewmaker.h"

#include "leaves/augment/common.h"

namespace F = torch::nn::functional;

namespace leaves::views {

ViewMakerImpl::ViewMakerImpl(const ViewMakerOptions& options_) : options(options_) { reset(); }

void ViewMakerImpl::reset() {
  const auto& o = options;
  augment::check_option(o.channels() >= 1, "ViewMaker", "channels", ">= 1", static_cast<double>(o.channels()));
  augment::check_option(o.budget() > 0 && std::isfinite(o.budget()), "ViewMaker", "budget", "> 0", o.budget());
  augment::check_option(o.residual_blocks() >= 0 && o.residual_blocks() <= 5, "ViewMaker", "residual_blocks",
                        "in 0..5", static_cast<double>(o.residual_blocks()));
  augment::check_option(o.noise_bound() >= 0, "ViewMaker", "noise_bound", ">= 0", o.noise_bound());
  auto conv = [&](const std::string& name, int64_t in, int64_t out, int64_t k, int64_t stride) {
    return register_module(name, torch::nn::Conv1d(torch::nn::Conv1dOptions(in, out, k).stride(stride)));
  };
  auto norm = [&](const std::string& name, int64_t ch) {
    return register_module(name, torch::nn::InstanceNorm1d(torch::nn::InstanceNorm1dOptions(ch).affine(true)));
  };
  const int64_t C = o.channels();
  conv1_ = conv("conv1", C + 1, 32, 9, 1);
  in1_ = norm("in1", 32);
  conv2_ = conv("conv2", 32, 64, 3, 2);
  in2_ = norm("in2", 64);
  conv3_ = conv("conv3", 64, 128, 3, 2);
  in3_ = norm("in3", 128);
  blocks_.clear();
  for (int64_t r = 1; r <= o.residual_blocks(); ++r) {
    const int64_t ch = 128 + r;
    const std::string p = "res" + std::to_string(r) + "_";
    blocks_.push_back({conv(p + "conv1", ch, ch, 3, 1), conv(p + "conv2", ch, ch, 3, 1), norm(p + "in1", ch),
                       norm(p + "in2", ch)});
  }
  up1_ = conv("up1", 128 + o.residual_blocks(), 64, 3, 1);
  in4_ = norm("in4", 64);
  up2_ = conv("up2", 64, 32, 3, 1);
  in5_ = norm("in5", 32);
  out_ = conv("out", 32, C, 9, 1);
}

torch::Tensor ViewMakerImpl::with_noise(const torch::Tensor& y) const {
  auto noise = torch::rand({y.size(0), 1, y.size(2)}, y.options()) * options.noise_bound();
  return torch::cat({y, noise}, 1);
}

torch::Tensor ViewMakerImpl::conv(torch::nn::Conv1d& c, const torch::Tensor& y, int64_t kernel) const {
  const int64_t pad = kernel / 2;
  return c->forward(F::pad(y, F::PadFuncOptions({pad, pad}).mode(torch::kReflect)));
}

torch::Tensor ViewMakerImpl::delta(const torch::Tensor& x) {
  augment::check_series(x, "ViewMaker");
  if (x.size(1) != options.channels()) {
    throw std::invalid_argument("ViewMaker: built for " + std::to_string(options.channels()) +
                                " channels, got an input with " + std::to_string(x.size(1)));
  }
  const int64_t L = x.size(2);
  const int64_t Lp = std::max<int64_t>(16, (L + 3) / 4 * 4);
  auto y = Lp == L ? x : F::pad(x, F::PadFuncOptions({0, Lp - L}).mode(torch::kReplicate));
  y = torch::relu(in1_(conv(conv1_, with_noise(y), 9)));
  y = torch::relu(in2_(conv(conv2_, y, 3)));
  y = torch::relu(in3_(conv(conv3_, y, 3)));
  for (auto& b : blocks_) {
    auto h = with_noise(y);
    auto r = torch::relu(b.norm1(conv(b.conv1, h, 3)));
    r = b.norm2(conv(b.conv2, r, 3));
    y = h + r;
  }
  auto up = [](const torch::Tensor& t) {
    return F::interpolate(t, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0}).mode(torch::kNearest));
  };
  y = torch::relu(in4_(conv(up1_, up(y), 3)));
  y = torch::relu(in5_(conv(up2_, up(y), 3)));
  y = conv(out_, y, 9).narrow(2, 0, L);
  auto d = torch::tanh(y);
  auto mean_abs = d.abs().mean({1, 2}, true).clamp_min(1e-12);
  return d * (options.budget() / mean_abs);
}

torch::Tensor ViewMakerImpl::forward(const torch::Tensor& x) { return x + delta(x); }

std::vector<std::string> ViewMakerImpl::report_names() const { return {"distortion_budget"}; }

torch::Tensor ViewMakerImpl::report() const {
  return torch::full({1}, options.budget(), conv1_->weight.options()).detach();
}

int64_t ViewMakerImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace leaves::views
