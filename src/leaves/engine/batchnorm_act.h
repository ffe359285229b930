// The fused kernels of the encoder's BatchNorm tails and stem, as autograd
// functions on tensors (the module-level choice of when to take them is
// nn/batchnorm.h's):
//
//   - BatchNorm with training statistics + optional residual + LeakyReLU: one
//     parallel pass over memory for the statistics and one for the output on
//     the CPU ([B, C, L] fp32/fp64); on CUDA ([B, C, 1, L] channels-last,
//     fp32/bf16/fp16) leaves' own kernels (engine/cuda/batchnorm_act.h);
//   - max-pool over time with kernel 2 on the CPU, one vectorised pass;
//   - the stem, max_pool(leaky_relu(bn(conv(x)))), as one CUDA kernel pair.
//
// The same arithmetic as LibTorch's composed ops (biased variance for the
// normalisation, unbiased for the running variance; the same running
// statistics), checked against them in float64 by `leaves bench norm` and
// tests/engine/batchnorm_act_test.cpp.
#pragma once
#include <torch/torch.h>

namespace leaves::engine {

/// A BatchNorm's parameters and running statistics (updated in place).
struct BatchNormTensors {
  torch::Tensor weight, bias, running_mean, running_var;
  double momentum = 0.1, eps = 1e-5;
};

/// leaky_relu(batch_norm(x) + residual) with the batch's statistics, the
/// running statistics updated; `residual` may be undefined, `activate` false
/// skips the LeakyReLU. CPU or (in a build with the kernels) CUDA; the caller
/// checks that the kernel takes these arguments.
torch::Tensor batch_norm_act_fused(const torch::Tensor& x, const BatchNormTensors& bn, const torch::Tensor& residual,
                                   bool activate, double negative_slope);

/// max_pool1d(x, 2) for a CPU [B, C, L] fp32/fp64 input.
torch::Tensor max_pool2_fused(const torch::Tensor& x);

/// The stem on CUDA (fp32 channels-last [B, Ci, 1, L] input, 3-tap
/// convolution with bias); bf16 output under autocast. Throws in a build
/// without the kernels.
torch::Tensor stem_fused(const torch::Tensor& x, const torch::Tensor& conv_weight, const torch::Tensor& conv_bias,
                         const BatchNormTensors& bn, double negative_slope);

/// Whether the stem kernels take these channel counts (their shared-memory budget).
bool stem_kernels_support(int64_t in_channels, int64_t channels);

/// [B, C, 1, L] in channels-last order: B L rows of C adjacent channels.
bool channels_last_rows(const torch::Tensor& t);

/// Forward passes that took a fused BatchNorm kernel, for tests and benchmarks.
int64_t fused_batch_norm_calls();

/// Whether this build has leaves' own CUDA kernels.
bool cuda_kernels_built();

}  // namespace leaves::engine
