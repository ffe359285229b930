#include "leaves/nn/resnet1d.h"

#include <stdexcept>

#include "leaves/compat.h"

namespace leaves::nn {

namespace {
// Whether this convolution runs on the BLAS (cpu_conv.h): 0 no, 1 Winograd,
// 2 im2col.
int blas_path(const torch::nn::Conv1d& conv, const torch::Tensor& x, CpuConv cpu_conv) {
  if (cpu_conv == CpuConv::Torch || !x.device().is_cpu()) return 0;
  // Every convolution of this file is built with padding (k - 1) / 2 and zero
  // padding mode (the options' padding is a variant whose API differs between
  // LibTorch versions, so it is not re-read here).
  const auto& o = conv->options;
  if (o.dilation()->at(0) != 1 || o.groups() != 1 || compat::autocast_on(torch::kCPU)) return 0;
  const int64_t k = o.kernel_size()->at(0), s = o.stride()->at(0);
  const bool winograd_pays = cpu_conv == CpuConv::Blas || x.size(1) >= kWinogradMinChannels;
  if (k == 3 && s == 1 && winograd_pays && winograd_applicable(x, conv->weight)) return use_blas_conv(cpu_conv) ? 1 : 0;
  if (gemm_applicable(x, conv->weight)) return use_blas_conv(cpu_conv) ? 2 : 0;
  return 0;
}
}  // namespace

torch::Tensor conv_any_layout(torch::nn::Conv1d conv, const torch::Tensor& x, CpuConv cpu_conv) {
  if (x.dim() == 3) {
    switch (blas_path(conv, x, cpu_conv)) {
      case 1: return winograd_conv1d(x, conv->weight, conv->bias);
      case 2: return gemm_conv1d(x, conv->weight, conv->bias, conv->options.stride()->at(0));
      default: break;
    }
    return conv->forward(x);
  }
  const auto& w = conv->weight;  // [out, in, k]: the 1-D kernel, 1 x k in 2-D
  const std::vector<int64_t> stride{1, conv->options.stride()->at(0)}, padding{0, (w.size(2) - 1) / 2};
  return at::conv2d(x, w.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast), conv->bias, stride, padding);
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

torch::Tensor BasicBlock1dImpl::forward(const torch::Tensor& x) {
  const bool fused = fused_for(x);
  auto y = batch_norm_act(bn1, conv_any_layout(conv1, x, cpu_conv), {}, true, negative_slope, fused);
  auto skip = shortcut_conv
                  ? batch_norm_act(shortcut_bn, conv_any_layout(shortcut_conv, x, cpu_conv), {}, false, 0, fused)
                  : x;
  return batch_norm_act(bn2, conv_any_layout(conv2, y, cpu_conv), skip, true, negative_slope, fused);
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

void ResNet1dImpl::set_cpu_conv(CpuConv c) {
  cpu_conv_ = c;
  for (auto& m : body->children()) {
    if (auto* block = dynamic_cast<BasicBlock1dImpl*>(m.get())) block->cpu_conv = c;
  }
}

void ResNet1dImpl::set_fused_norm(bool on) {
  fused_norm_ = on;
  for (auto& m : body->children()) {
    if (auto* block = dynamic_cast<BasicBlock1dImpl*>(m.get())) block->fused_norm = on;
  }
}

void ResNet1dImpl::set_fused_norm_cuda(bool on) {
  fused_norm_cuda_ = on;
  for (auto& m : body->children()) {
    if (auto* block = dynamic_cast<BasicBlock1dImpl*>(m.get())) block->fused_norm_cuda = on;
  }
}

torch::Tensor ResNet1dImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 3 || x.size(1) != options.in_channels() || x.size(2) < 2) {
    std::ostringstream s;
    s << "ResNet1d: expected input [B, " << options.in_channels() << ", L >= 2], got " << x.sizes();
    throw std::invalid_argument(s.str());
  }
  if (channels_last_) {
    auto y = x.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast);  // [B, C, 1, L]
    const bool fused = y.is_cuda() ? fused_norm_cuda_ : fused_norm_;
    if (fused && stem_fusable(stem_conv, *stem_bn, y, options.negative_slope())) {
      y = fused_stem(stem_conv, stem_bn, y, options.negative_slope());
    } else {
      y = batch_norm_act(stem_bn, conv_any_layout(stem_conv, y), {}, true, options.negative_slope(), fused);
      y = torch::max_pool2d(y, {1, 2}, {1, 2});
    }
    return body->forward(y).mean({2, 3});
  }
  auto y = batch_norm_act(stem_bn, conv_any_layout(stem_conv, x, cpu_conv_), {}, true, options.negative_slope(),
                          fused_norm_);
  y = max_pool2(y, fused_norm_);
  return body->forward(y).mean(-1);
}

}  // namespace leaves::nn
