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
// Execution (`options.execution`, engine/execution.h): how the arithmetic runs,
// never what it computes. Layout: channels-last runs the same network on `[B, C, 1, L]`
// tensors in channels-last memory order (time-major, channels innermost), as
// 2-D convolutions with 1 x k kernels: the order in which cuDNN's tensor-core
// kernels read their operands, so no layout transposes around each convolution.
// The parameters, the arithmetic and the checkpoints are the same either way.
#pragma once
#include <torch/torch.h>

#include "leaves/engine/cl_conv.h"
#include "leaves/engine/cpu_conv.h"
#include "leaves/engine/execution.h"
#include "leaves/nn/batchnorm.h"

namespace leaves::nn {

struct ResNet1dOptions {
  explicit ResNet1dOptions(int64_t in_channels = 1) : in_channels_(in_channels) {}
  TORCH_ARG(int64_t, in_channels);
  /// Channels of the first stage (64 in the paper); the representation has 8x.
  TORCH_ARG(int64_t, width) = 64;
  /// Negative slope of the LeakyReLUs.
  TORCH_ARG(double, negative_slope) = 0.01;
  /// How the arithmetic runs: layout, CPU convolutions, fused BatchNorm kernels
  /// (CPU: default on; CUDA: off until measured against cuDNN, bench/gpu-notes.md),
  /// convolution biases folded into the BatchNorms in training (the bias
  /// cancels there exactly: one pass fewer each way; the parameter is kept and
  /// gets its exact gradient, zero), channels-last convolutions as matrix
  /// products. Not saved: the same network either way.
  TORCH_ARG(engine::ExecutionOptions, execution) = {};
};

class BasicBlock1dImpl : public torch::nn::Cloneable<BasicBlock1dImpl> {
 public:
  BasicBlock1dImpl(int64_t in, int64_t out, int64_t stride, double negative_slope);
  void reset() override;
  /// `[B, in, L]`, or `[B, in, 1, L]` in channels-last order, run as `execution` says.
  torch::Tensor forward(const torch::Tensor& x, const engine::ExecutionOptions& execution = {});

  int64_t in, out, stride;
  double negative_slope;
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
  ResNet1dOptions options;
  torch::nn::Conv1d stem_conv{nullptr};
  BatchNorm1d stem_bn{nullptr};
  torch::nn::Sequential body{nullptr};
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
  bool fold_bias = true;  ///< engine::ConvBias::Fold
  bool cl_gemm = false;   ///< engine::ClConv::Gemm
};

/// `batch_norm_act(bn, conv(x), residual, activate, ...)`; with `how.fold_bias`
/// and `bn` in training mode the convolution runs without its bias and the
/// BatchNorm takes it as its `input_bias` (the same result).
torch::Tensor conv_bn_act(torch::nn::Conv1d& conv, BatchNorm1d& bn, const torch::Tensor& x, const ConvBnAct& how,
                          const torch::Tensor& residual, bool activate);

}  // namespace leaves::nn
