// Frozen-feature evaluation: representations of an encoder and a multinomial
// logistic-regression probe trained on them.
#pragma once
#include <torch/torch.h>

#include "leaves/nn/resnet1d.h"

namespace leaves::eval {

/// Representations `[N, D]` of `x` `[N, C, L]` (encoder in eval mode, no
/// gradients, batches of `batch_size`), returned on the CPU.
torch::Tensor embed(nn::ResNet1d& encoder, const torch::Tensor& x, int64_t batch_size = 256);

struct LinearProbeOptions {
  TORCH_ARG(double, l2) = 1e-3;       ///< L2 penalty on the weights (mean over samples)
  TORCH_ARG(int64_t, iterations) = 200;  ///< L-BFGS iterations
};

/// A fitted probe: features are standardised with the training mean and
/// standard deviation, then `logits = standardised W^T + b`.
struct LinearProbe {
  torch::Tensor mean, std, weight, bias;
  torch::Tensor predict(const torch::Tensor& features) const;  ///< `[N]` class indices
  torch::Tensor probabilities(const torch::Tensor& features) const;  ///< `[N, K]` softmax
  double accuracy(const torch::Tensor& features, const torch::Tensor& labels) const;
};

/// Fits softmax regression on `features` `[N, D]` and `labels` `[N]` (full
/// batch, L-BFGS with strong-Wolfe line search; deterministic).
LinearProbe fit_linear_probe(const torch::Tensor& features, const torch::Tensor& labels,
                             const LinearProbeOptions& options = {});

/// k-nearest-neighbour class probabilities `[M, K]` for `query` `[M, D]`: the
/// share of each class among the k training samples of highest cosine
/// similarity (ties in the vote are broken by these shares' order only, so
/// `argmax` takes the lower class index).
torch::Tensor knn_probabilities(const torch::Tensor& train_features, const torch::Tensor& train_labels,
                                const torch::Tensor& query, int64_t k, int64_t classes);

}  // namespace leaves::eval
