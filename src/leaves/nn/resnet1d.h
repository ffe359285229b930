// ResNet-18 1D encoder, as in the paper's baselines and the reference code.
//
//   stem:   Conv1d(C, w, k3, pad 1) -> BatchNorm -> LeakyReLU -> MaxPool(2)
//   stages: 4 x 2 BasicBlocks with w, 2w, 4w, 8w channels, strides 1, 2, 2, 2
//           (BasicBlock: conv k3 -> BN -> LeakyReLU -> conv k3 -> BN, plus the
//           shortcut, a 1x1 conv + BN when the shape changes, then LeakyReLU)
//   pool:   global average over time -> representation of 8w features
//
// w = 64 gives the paper's 512-d representation. Input `[B, C, L]` (L >= 2),
// output `[B, 8w]`.
//
// Layout: with `set_channels_last(true)` the same network runs on `[B, C, 1, L]`
// tensors in channels-last memory order (time-major, channels innermost), as
// 2-D convolutions with 1 x k kernels: the order in which cuDNN's tensor-core
// kernels read their operands, so no layout transposes around each convolution.
// The parameters, the arithmetic and the checkpoints are the same either way.
#pragma once
#include <torch/torch.h>

#include "leaves/nn/batchnorm.h"
#include "leaves/engine/cl_conv.h"
#include "leaves/engine/cpu_conv.h"

namespace leaves::nn {

struct ResNet1dOptions {
  explicit ResNet1dOptions(int64_t in_channels = 1) : in_channels_(in_channels) {}
  TORCH_ARG(int64_t, in_channels);
  /// Channels of the first stage (64 in the paper); the representation has 8x.
  TORCH_ARG(int64_t, width) = 64;
  /// Negative slope of the LeakyReLUs.
  TORCH_ARG(double, negative_slope) = 0.01;
};

class BasicBlock1dImpl : public torch::nn::Cloneable<BasicBlock1dImpl> {
 public:
  BasicBlock1dImpl(int64_t in, int64_t out, int64_t stride, double negative_slope);
  void reset() override;
  /// `[B, in, L]`, or `[B, in, 1, L]` in channels-last order.
  torch::Tensor forward(const torch::Tensor& x);

  int64_t in, out, stride;
  double negative_slope;
  /// How the 3-tap stride-1 convolutions run on the CPU (see ResNet1dImpl).
  engine::CpuConv cpu_conv = engine::CpuConv::Auto;
  /// BatchNorm, residual and LeakyReLU as one kernel (see batch_norm_act):
  /// on the CPU, and on CUDA (off by default there, see ResNet1dImpl).
  bool fused_norm = true, fused_norm_cuda = false;
  /// Leave the convolutions' biases to the BatchNorms that follow them in
  /// training mode (see ResNet1dImpl::set_fold_conv_bias).
  bool fold_conv_bias = true;
  /// Channels-last convolutions as matrix products (see ResNet1dImpl::set_cl_gemm_conv).
  bool cl_gemm_conv = false;
  bool fused_for(const torch::Tensor& x) const { return x.is_cuda() ? fused_norm_cuda : fused_norm; }
  torch::nn::Conv1d conv1{nullptr}, conv2{nullptr}, shortcut_conv{nullptr};
  BatchNorm1d bn1{nullptr}, bn2{nullptr}, shortcut_bn{nullptr};
};
TORCH_MODULE(BasicBlock1d);

class ResNet1dImpl : public torch::nn::Cloneable<ResNet1dImpl> {
 public:
  explicit ResNet1dImpl(const ResNet1dOptions& options = ResNet1dOptions());
  void reset() override;
  /// `[B, C, L]` -> `[B, 8 width]`.
  torch::Tensor forward(const torch::Tensor& x);
  int64_t output_dim() const { return 8 * options.width(); }
  /// Run on `[B, C, 1, L]` channels-last tensors (see above); not saved.
  void set_channels_last(bool on) { channels_last_ = on; }
  bool channels_last() const { return channels_last_; }
  /// How the convolutions run on the CPU: as matrix products on the BLAS
  /// (`cpu_conv.h`: Winograd F(4, 3) for the 3-tap stride-1 ones, im2col for
  /// the others) or LibTorch's own (oneDNN). `Auto` (the default) takes the
  /// BLAS paths when the BLAS is fast, Winograd from kWinogradMinChannels
  /// input channels on. Only fp32/fp64 channels-first CPU tensors outside
  /// autocast use them; anything else runs LibTorch's. Not saved: the
  /// arithmetic is the same convolution either way.
  void set_cpu_conv(engine::CpuConv c);
  engine::CpuConv cpu_conv() const { return cpu_conv_; }
  /// Whether each BatchNorm with its residual and LeakyReLU runs as one fused
  /// kernel where it can (CPU, `[B, C, L]`, fp32/fp64, training: see
  /// batch_norm_act), and the stem's max-pool as ours (max_pool2), or as
  /// LibTorch's separate ops (the default is fused). Not saved: the
  /// arithmetic is the same.
  void set_fused_norm(bool on);
  bool fused_norm() const { return fused_norm_; }
  /// The same on CUDA, for `[B, C, 1, L]` channels-last activations in
  /// fp32/bf16/fp16, and the stem (convolution + BatchNorm + LeakyReLU +
  /// max-pool) as one kernel pair (engine/cuda/batchnorm_act.h; builds with a
  /// CUDA LibTorch and nvcc only). Off by default until measured against
  /// cuDNN on the GPU (bench/gpu-notes.md); `leaves bench norm` checks and
  /// times it.
  void set_fused_norm_cuda(bool on);
  bool fused_norm_cuda() const { return fused_norm_cuda_; }
  /// Every convolution of the network is followed by a BatchNorm, which in
  /// training mode subtracts the batch mean: the convolution's bias cancels
  /// there exactly (the output, the loss and every other gradient do not
  /// depend on it, and its own gradient is zero). With this on (the
  /// default) the convolutions run without their bias in training mode and
  /// the BatchNorm adds `momentum * bias` to its running mean, which is all
  /// that the bias changes (see conv_bn_act): one pass over each
  /// convolution's output forward and one backward fewer, the same network.
  /// In evaluation mode the bias is applied as always. The parameter is kept
  /// (the same checkpoints; it receives no gradient, its exact one). Off: the
  /// bias is added and its rounding-noise gradient computed, as LibTorch's
  /// modules do. Not saved.
  void set_fold_conv_bias(bool on);
  bool fold_conv_bias() const { return fold_conv_bias_; }
  /// In the channels-last layout, every convolution as matrix products
  /// (engine/cl_conv.h: im2col and LibTorch's matrix product, cuBLAS on CUDA)
  /// instead of LibTorch's convolution (cuDNN). Off by default: to be measured
  /// against cuDNN (`leaves bench conv`). The same arithmetic. Not saved.
  void set_cl_gemm_conv(bool on);
  bool cl_gemm_conv() const { return cl_gemm_conv_; }

  ResNet1dOptions options;
  torch::nn::Conv1d stem_conv{nullptr};
  BatchNorm1d stem_bn{nullptr};
  torch::nn::Sequential body{nullptr};

 private:
  bool channels_last_ = false;
  engine::CpuConv cpu_conv_ = engine::CpuConv::Auto;
  bool fused_norm_ = true, fused_norm_cuda_ = false, fold_conv_bias_ = true, cl_gemm_conv_ = false;
};
TORCH_MODULE(ResNet1d);

/// `conv` applied to `x` `[B, C, L]` as it is, or to `[B, C, 1, L]` as a 2-D
/// convolution with a 1 x k kernel in channels-last order (same weights).
/// A convolution of a `[B, C, L]` CPU tensor runs on the BLAS paths when
/// `cpu_conv` resolves to them (see ResNet1dImpl).
/// Without `with_bias` the convolution's bias is left out. With `cl_gemm` a
/// `[B, C, 1, L]` input runs as matrix products (cl_gemm_conv). Every
/// convolution here has padding (k - 1) / 2.
torch::Tensor conv_any_layout(torch::nn::Conv1d conv, const torch::Tensor& x, engine::CpuConv cpu_conv = engine::CpuConv::Torch,
                              bool with_bias = true, bool cl_gemm = false);

/// How conv_bn_act runs: see ResNet1dImpl.
struct ConvBnAct {
  engine::CpuConv cpu_conv = engine::CpuConv::Torch;
  double negative_slope = 0.01;
  bool fused = true;      ///< batch_norm_act's `fused`
  bool fold_bias = true;  ///< see ResNet1dImpl::set_fold_conv_bias
  bool cl_gemm = false;   ///< see ResNet1dImpl::set_cl_gemm_conv
};

/// `batch_norm_act(bn, conv(x), residual, activate, ...)`; with `how.fold_bias`
/// and `bn` in training mode the convolution runs without its bias and the
/// BatchNorm takes it as its `input_bias` (the same result).
torch::Tensor conv_bn_act(torch::nn::Conv1d& conv, BatchNorm1d& bn, const torch::Tensor& x, const ConvBnAct& how,
                          const torch::Tensor& residual, bool activate);

}  // namespace leaves::nn
