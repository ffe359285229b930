// BatchNorm over [B, C, L] that can synchronise its batch statistics across the
// ranks of a data-parallel run (SyncBatchNorm; LibTorch's C++ API has none).
//
// Without `gather` it is exactly torch::nn::BatchNorm1d (same parameter and
// buffer names, so checkpoints are interchangeable). With `gather`, a
// differentiable all-gather along dim 0, each rank computes its per-channel
// count, mean and biased variance, gathers them, and combines them with Chan's
// parallel formula (no E[x^2] - E[x]^2 cancellation); the gradient flows
// back to every rank through the gather, so the normalisation, its gradient and
// the running statistics equal those of one process holding the global batch.
#pragma once
#include <torch/torch.h>

#include <functional>

namespace leaves::nn {

class BatchNorm1dImpl : public torch::nn::Cloneable<BatchNorm1dImpl> {
 public:
  using Gather = std::function<torch::Tensor(const torch::Tensor&)>;

  explicit BatchNorm1dImpl(int64_t features, double eps = 1e-5, double momentum = 0.1);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);

  int64_t features;
  double eps, momentum;
  Gather gather;  ///< set: statistics over the ranks' global batch (training mode only)
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};
TORCH_MODULE(BatchNorm1d);

/// `bn(x)`, plus `residual` when defined, then a LeakyReLU of slope
/// `negative_slope` when `activate`: the tail of a ResNet block.
///
/// With `fused` (the default), a CPU `[B, C, L]` fp32/fp64 input in training
/// mode (no `gather`, no autocast, `negative_slope` > 0) runs as one fused
/// kernel (`BatchNormActFn`): a parallel pass over memory for the statistics,
/// one for normalisation, residual and activation, and two in the backward
/// pass for the activation's and the normalisation's gradients; the same
/// arithmetic as the composed LibTorch ops
/// (biased variance for the normalisation, unbiased for the running
/// variance), the same running statistics. Anything else, or `fused` false,
/// runs the composed LibTorch ops.
///
/// `input_bias`, when defined, is a per-channel bias `[C]` that the caller
/// left out of `x` (the preceding convolution's): the result is that of
/// `bn(x + input_bias)`. In training mode the batch statistics absorb it
/// exactly (the normalisation subtracts the batch mean, which contains it;
/// the variance does not see it), so it costs no pass over `x`: only the
/// running mean moves by `momentum * input_bias`, as it would have. It gets
/// no gradient there, which is its exact gradient (zero). In evaluation mode
/// it is added to `x`.
torch::Tensor batch_norm_act(BatchNorm1d& bn, const torch::Tensor& x, const torch::Tensor& residual, bool activate,
                             double negative_slope, bool fused = true, const torch::Tensor& input_bias = {});

/// Max-pool over time with kernel 2 and stride 2 (`torch::max_pool1d(x, 2)`:
/// the same values, gradients, tie and NaN rules). With `fused`, a CPU
/// `[B, C, L]` fp32/fp64 input runs one vectorised pass in each direction
/// (LibTorch's generic pooling kernel also writes int64 indices).
torch::Tensor max_pool2(const torch::Tensor& x, bool fused = true);

/// Whether `batch_norm_act` would take the fused kernel for these arguments.
bool batch_norm_act_fusable(const BatchNorm1dImpl& bn, const torch::Tensor& x, const torch::Tensor& residual,
                            bool activate, double negative_slope);

/// Whether this build has the CUDA kernels (engine/cuda/batchnorm_act.h): then a
/// CUDA `[B, C, 1, L]` channels-last input in fp32/bf16/fp16 (fp32 parameters
/// and running statistics, training mode, no `gather`) is fused too.
bool batch_norm_act_cuda_built();

/// Whether `fused_stem` takes these arguments: a CUDA build with the kernels,
/// `x` fp32 `[B, Ci, 1, L]` channels-last, `conv` 3 taps with padding 1 and
/// stride 1 and a bias (fp32), `bn` in training mode (fp32, no `gather`),
/// `negative_slope` > 0, and weights small enough for the kernels.
bool stem_fusable(const torch::nn::Conv1d& conv, const BatchNorm1dImpl& bn, const torch::Tensor& x,
                  double negative_slope);

/// The encoder's stem, `max_pool(leaky_relu(bn(conv(x))))` over time with
/// kernel 2, as leaves' CUDA kernels (engine/cuda/batchnorm_act.h): the
/// full-length convolution output is never stored. `[B, C, 1, L / 2]`
/// channels-last, bf16 under CUDA autocast, else fp32. Throws unless
/// `stem_fusable`.
torch::Tensor fused_stem(torch::nn::Conv1d& conv, BatchNorm1d& bn, const torch::Tensor& x, double negative_slope);

/// How many calls took the fused kernel (forward passes), for tests and `leaves bench`.
int64_t batch_norm_act_calls();

/// Sets (or, with an empty function, clears) the gather of every BatchNorm1d in `module`.
void sync_batchnorm(torch::nn::Module& module, const BatchNorm1dImpl::Gather& gather);

/// Recomputes the running statistics of every BatchNorm1d in `module` for its
/// current weights ("precise BatchNorm", Wu & Johnson 2021): `run_batch(i)`,
/// for i = 0 .. batches - 1, must run the module forward in training mode on
/// the i-th batch (no gradient needed); batch i is given momentum 1 / (i + 1),
/// so the running mean and variance end as the plain average of the
/// `batches` per-batch means and unbiased variances, with no trace of the
/// exponential average they held. That average lags behind weights that move
/// quickly (few steps per epoch, a high learning rate), and evaluation mode then
/// normalises with statistics of older weights. The momenta are restored
/// afterwards, also when `run_batch` throws (the statistics are then partly
/// recomputed). With batches == 0 nothing changes.
void recompute_batchnorm_statistics(torch::nn::Module& module, const std::function<void(int64_t)>& run_batch,
                                    int64_t batches);

}  // namespace leaves::nn
