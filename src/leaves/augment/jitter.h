// Jitter T_J (paper Eq. 4): additive Gaussian noise with a learnable bounded
// standard deviation.
//
//   out = x + sigma_J * eps,   eps ~ N(0, 1) of shape [B, C, L],
//   sigma_J = eta * sigmoid(p)  in (0, eta)   (reparameterisation, paper A.2).
#pragma once
#include <torch/torch.h>

namespace leaves::augment {

/// Functional form: `x` `[B, C, L]`, `sigma` a scalar tensor, `eps` `[B, C, L]`.
torch::Tensor jitter(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& eps);

struct JitterOptions {
  /// Upper bound of sigma_J.
  TORCH_ARG(double, eta) = 0.05;
  /// Initial sigma_J as a fraction of eta, in (0, 1).
  TORCH_ARG(double, init) = 0.5;
};

class JitterImpl : public torch::nn::Cloneable<JitterImpl> {
 public:
  explicit JitterImpl(const JitterOptions& options = {});
  void reset() override;

  /// Fresh noise for `x`: eps `[B, C, L]` ~ N(0, 1).
  torch::Tensor sample_noise(const torch::Tensor& x) const;
  /// Draws fresh noise and applies it. `[B, C, L]` -> `[B, C, L]`.
  torch::Tensor forward(const torch::Tensor& x);
  /// Applies given noise (held fixed, e.g. for gradient checks); same shapes.
  torch::Tensor transform(const torch::Tensor& x, const torch::Tensor& eps);
  /// Current sigma_J, a scalar tensor in (0, eta).
  torch::Tensor sigma() const;

  JitterOptions options;
  torch::Tensor raw;  ///< unconstrained learnable parameter p
};
TORCH_MODULE(Jitter);

}  // namespace leaves::augment
