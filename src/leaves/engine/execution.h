// How the encoder's arithmetic is executed: layouts and kernels. None of these
// changes the network, its parameters, its checkpoints or (beyond rounding)
// its results; they are carried in nn::ResNet1dOptions::execution.
#pragma once
#include <torch/torch.h>

#include <string>

#include "leaves/engine/cpu_conv.h"

namespace leaves::engine {

enum class Layout {
  ChannelsFirst,  ///< [B, C, L]
  ChannelsLast,   ///< [B, C, 1, L] in channels-last memory order (cuDNN's tensor cores read it so)
};
enum class Kernels {
  Fused,  ///< leaves' own fused kernels where they apply (batchnorm_act.h)
  Torch,  ///< LibTorch's separate operators
};
enum class ConvBias {
  Fold,   ///< left to the BatchNorm that follows each convolution in training (exactly the same network)
  Apply,  ///< added and differentiated as LibTorch's modules do
};
enum class ClConv {
  Torch,  ///< LibTorch's convolution (cuDNN on CUDA)
  Gemm,   ///< im2col and matrix products (cl_conv.h)
};

struct ExecutionOptions {
  Layout layout = Layout::ChannelsFirst;
  CpuConv cpu_conv = CpuConv::Auto;    ///< channels-first CPU convolutions (cpu_conv.h)
  Kernels cpu_norm = Kernels::Fused;   ///< BatchNorm + residual + LeakyReLU and the stem's max-pool on the CPU
  Kernels gpu_norm = Kernels::Torch;   ///< the same and the stem on CUDA (channels-last only)
  ConvBias conv_bias = ConvBias::Fold;
  ClConv cl_conv = ClConv::Torch;      ///< channels-last convolutions

  /// Whether the fused BatchNorm kernels are asked for on `x`'s device.
  bool fused_norm_for(const torch::Tensor& x) const {
    return (x.is_cuda() ? gpu_norm : cpu_norm) == Kernels::Fused;
  }
};

/// The words of the options and config files ("channels-last", "fused",
/// "fold", "gemm"); parse_* throw std::invalid_argument for another.
const char* layout_name(Layout l);
const char* kernels_name(Kernels k);
const char* conv_bias_name(ConvBias c);
const char* cl_conv_name(ClConv c);
Kernels parse_kernels(const std::string& name);
ConvBias parse_conv_bias(const std::string& name);
ClConv parse_cl_conv(const std::string& name);

}  // namespace leaves::engine
