// Heads on top of the encoder's representation.
//
// ProjectionHead (SimCLR, Chen et al. 2020): Linear(d, h) -> ReLU -> Linear(h, p)
// with h = d (512) and p = 128 by default. The hidden layer is SimCLR's choice
// (its ablation shows a nonlinear head gives better representations than a
// linear one); `hidden = 0` gives a single Linear(d, p) as in the peer script.
// The head is trained with the encoder (the reference code forgets to pass it
// to the optimizer; we do not) and is discarded after pre-training.
#pragma once
#include <torch/torch.h>

namespace leaves::nn {

struct ProjectionHeadOptions {
  explicit ProjectionHeadOptions(int64_t input_dim = 512) : input_dim_(input_dim) {}
  TORCH_ARG(int64_t, input_dim);
  /// Hidden width; 0 for a purely linear head.
  TORCH_ARG(int64_t, hidden) = 512;
  TORCH_ARG(int64_t, output_dim) = 128;
};

class ProjectionHeadImpl : public torch::nn::Cloneable<ProjectionHeadImpl> {
 public:
  explicit ProjectionHeadImpl(const ProjectionHeadOptions& options = ProjectionHeadOptions());
  void reset() override;
  /// `[B, input_dim]` -> `[B, output_dim]`.
  torch::Tensor forward(const torch::Tensor& h);

  ProjectionHeadOptions options;
  torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(ProjectionHead);

}  // namespace leaves::nn
