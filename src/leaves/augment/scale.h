// Scale T_S (paper Eq. 5): one random factor per (sample, channel).
//
//   out[b, c, :] = x[b, c, :] * (1 + sigma_S * eps[b, c]),   eps ~ N(0, 1) of shape [B, C, 1],
//   sigma_S = eta * sigmoid(p)  in (0, eta).
#pragma once
#include <torch/torch.h>

namespace leaves::augment {

/// Functional form: `x` `[B, C, L]`, `sigma` a scalar tensor, `eps` `[B, C, 1]`.
torch::Tensor scale(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& eps);

struct ScaleOptions {
  /// Upper bound of sigma_S.
  TORCH_ARG(double, eta) = 0.05;
  /// Initial sigma_S as a fraction of eta, in (0, 1).
  TORCH_ARG(double, init) = 0.5;
};

class ScaleImpl : public torch::nn::Cloneable<ScaleImpl> {
 public:
  explicit ScaleImpl(const ScaleOptions& options = {});
  void reset() override;

  /// Fresh noise for `x`: eps `[B, C, 1]` ~ N(0, 1).
  torch::Tensor sample_noise(const torch::Tensor& x) const;
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor transform(const torch::Tensor& x, const torch::Tensor& eps);
  /// Current sigma_S, a scalar tensor in (0, eta).
  torch::Tensor sigma() const;

  ScaleOptions options;
  torch::Tensor raw;
};
TORCH_MODULE(Scale);

}  // namespace leaves::augment
