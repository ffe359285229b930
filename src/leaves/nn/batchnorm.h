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

/// Sets (or, with an empty function, clears) the gather of every BatchNorm1d in `module`.
void sync_batchnorm(torch::nn::Module& module, const BatchNorm1dImpl::Gather& gather);

}  // namespace leaves::nn
