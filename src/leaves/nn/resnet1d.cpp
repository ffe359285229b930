#include "leaves/nn/resnet1d.h"

#include <stdexcept>

#include "leaves/compat.h"

namespace leaves::nn {

namespace {
// Whether this convolution runs on the BLAS (cpu_conv.h): 0 no, 1 Winograd,
// 2 im2col.
int blas_path(const torch::nn::Conv1d& conv, const torch::Tensor& x, engine::CpuConv cpu_conv) {
  if (cpu_conv == engine::CpuConv::Torch || !x.device().is_cpu()) return 0;
  // Every convolution of this file is built with padding (k - 1) / 2 and zero
  // padding mode (the options' padding is a variant whose API differs between
  // LibTorch versions, so it is not re-read here).
  const auto& o = conv->options;
  if (o.dilation()->at(0) != 1 || o.groups() != 1 || compat::autocast_on(torch::kCPU)) return 0;
  const int64_t k = o.kernel_size()->at(0), s = o.stride()->at(0);
  const bool winograd_pays = cpu_conv == engine::CpuConv::Blas || x.size(1) >= engine::kWinogradMinChannels;
  if (k == 3 && s == 1 && winograd_pays && engine::winograd_applicable(x, conv->weight)) return engine::use_blas_conv(cpu_conv) ? 1 : 0;
  if (engine::gemm_applicable(x, conv->weight)) return engine::use_blas_conv(cpu_conv) ? 2 : 0;
  return 0;
}
}  // namespace

torch::Tensor conv_any_layout(torch::nn::Conv1d conv, const torch::Tensor& x, engine::CpuConv cpu_conv, bool with_bias,
                              bool cl_gemm) {
  const auto& w = conv->weight;  // [out, in, k]: the 1-D kernel, 1 x k in 2-D
  const torch::Tensor bias = with_bias ? conv->bias : torch::Tensor();
  const int64_t stride = conv->options.stride()->at(0), padding = (w.size(2) - 1) / 2;
  if (x.dim() == 3) {
    switch (blas_path(conv, x, cpu_conv)) {
      case 1: return engine::winograd_conv1d(x, w, bias);
      case 2: return engine::gemm_conv1d(x, w, bias, stride);
      default: break;
    }
    if (with_bias) return conv->forward(x);
    const std::vector<int64_t> s1{stride}, p1{padding}, d1{conv->options.dilation()->at(0)};
    return at::conv1d(x, w, bias, s1, p1, d1, conv->options.groups());
  }
  if (cl_gemm && conv->options.dilation()->at(0) == 1 && conv->options.groups() == 1 &&
      engine::cl_gemm_conv_applicable(x, w, stride)) {
    return engine::cl_gemm_conv(x, w, bias, stride);
  }
  const std::vector<int64_t> s2{1, stride}, p2{0, padding};
  return at::conv2d(x, w.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast), bias, s2, p2);
}

torch::Tensor conv_bn_act(torch::nn::Conv1d& conv, BatchNorm1d& bn, const torch::Tensor& x, const ConvBnAct& how,
                          const torch::Tensor& residual, bool activate) {
  // With batch statistics the convolution's bias cancels in the
  // normalisation: it is left out of the convolution (no pass over its
  // output forward, no reduction of its gradient backward) and handed to the
  // BatchNorm, which accounts for it in its running mean (batch_norm_act).
  const bool fold = how.fold_bias && conv->bias.defined() && bn->is_training();
  return batch_norm_act(bn, conv_any_layout(conv, x, how.cpu_conv, !fold, how.cl_gemm), residual, activate,
                        how.negative_slope, how.fused, fold ? conv->bias : torch::Tensor());
}

BasicBlock1dImpl::BasicBlock1dImpl(int64_t in_, int64_t out_, int64_t stride_, double slope)
    : in(in_), out(out_), stride(stride_), negative_slope(slope) {
  reset();
}

void BasicBlock1dImpl::reset() {
  using torch::nn::Conv1dOptions;
  conv1 = register_module("conv1", torch::nn::Conv1d(Conv1dOptions(in, out, 3).stride(stride).padding(1)));
  bn1 = register_module("bn1", BatchNorm1d(out));
  conv2 = register_module("conv2", torch::nn::Conv1d(Conv1dOptions(out, out, 3).padding(1)));
  bn2 = register_module("bn2", BatchNorm1d(out));
  if (stride != 1 || in != out) {
    shortcut_conv =
        register_module("shortcut_conv", torch::nn::Conv1d(Conv1dOptions(in, out, 1).stride(stride).bias(false)));
    shortcut_bn = register_module("shortcut_bn", BatchNorm1d(out));
  }
}

torch::Tensor BasicBlock1dImpl::forward(const torch::Tensor& x, const engine::ExecutionOptions& e) {
  const ConvBnAct how{e.cpu_conv, negative_slope, e.fused_norm_for(x), e.conv_bias == engine::ConvBias::Fold,
                      e.cl_conv == engine::ClConv::Gemm};
  auto y = conv_bn_act(conv1, bn1, x, how, {}, true);
  auto skip = shortcut_conv ? conv_bn_act(shortcut_conv, shortcut_bn, x, how, {}, false) : x;
  return conv_bn_act(conv2, bn2, y, how, skip, true);
}

ResNet1dImpl::ResNet1dImpl(const ResNet1dOptions& options_) : options(options_) { reset(); }

void ResNet1dImpl::reset() {
  if (options.in_channels() < 1) throw std::invalid_argument("ResNet1d: in_channels must be >= 1");
  if (options.width() < 1) throw std::invalid_argument("ResNet1d: width must be >= 1");
  const int64_t w = options.width();
  stem_conv = register_module(
      "stem_conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(options.in_channels(), w, 3).padding(1)));
  stem_bn = register_module("stem_bn", BatchNorm1d(w));
  body = torch::nn::Sequential();
  int64_t in = w;
  const int64_t widths[4] = {w, 2 * w, 4 * w, 8 * w};
  for (int s = 0; s < 4; ++s) {
    body->push_back(BasicBlock1d(in, widths[s], s == 0 ? 1 : 2, options.negative_slope()));
    body->push_back(BasicBlock1d(widths[s], widths[s], 1, options.negative_slope()));
    in = widths[s];
  }
  body = register_module("body", body);
}

torch::Tensor ResNet1dImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 3 || x.size(1) != options.in_channels() || x.size(2) < 2) {
    std::ostringstream s;
    s << "ResNet1d: expected input [B, " << options.in_channels() << ", L >= 2], got " << x.sizes();
    throw std::invalid_argument(s.str());
  }
  const auto& e = options.execution();
  const bool fold = e.conv_bias == engine::ConvBias::Fold;
  auto blocks = [&](torch::Tensor y) {
    for (const auto& m : *body) y = m.get<BasicBlock1d>()->forward(y, e);
    return y;
  };
  if (e.layout == engine::Layout::ChannelsLast) {
    auto y = x.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast);  // [B, C, 1, L]
    const bool fused = e.fused_norm_for(y);
    if (fused && stem_fusable(stem_conv, *stem_bn, y, options.negative_slope())) {
      y = fused_stem(stem_conv, stem_bn, y, options.negative_slope());
    } else {
      y = conv_bn_act(stem_conv, stem_bn, y,
                      {engine::CpuConv::Torch, options.negative_slope(), fused, fold, e.cl_conv == engine::ClConv::Gemm},
                      {}, true);
      y = torch::max_pool2d(y, {1, 2}, {1, 2});
    }
    return blocks(y).mean({2, 3});
  }
  const bool fused = e.cpu_norm == engine::Kernels::Fused;
  auto y = conv_bn_act(stem_conv, stem_bn, x, {e.cpu_conv, options.negative_slope(), fused, fold}, {}, true);
  y = max_pool2(y, fused);
  return blocks(y).mean(-1);
}

}  // namespace leaves::nn
