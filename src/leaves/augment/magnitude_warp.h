// Magnitude warping T_MW (Um et al. 2017; paper A.1 Eq. 6).
//
// k knots per (sample, channel) ~ N(1, sigma_M^2), evenly spaced over the series
// and interpolated smoothly to a curve e_M of length L, which MULTIPLIES the
// signal:
//
//   out = x * e_M,   e_M = (1 + sigma_M * eps) W,   eps ~ N(0, 1) of shape [B, C, k],
//
// with W the [k, L] interpolation basis (linear by default as in paper A.1;
// natural cubic spline as in Um et al. as an option). The appendix writes
// "X + eps_M": that is a typo for the multiplicative warp of Um et al., which
// the reference code implements; a curve centred on 1 only makes sense as a factor.
// sigma_M = eta * sigmoid(p) in (0, eta).
#pragma once
#include <torch/torch.h>

#include "leaves/augment/common.h"

namespace leaves::augment {

/// Functional form: `x` `[B, C, L]`, `sigma` scalar tensor, `eps` `[B, C, k]`,
/// `basis` `[k, L]` (see InterpolationBasis). Returns `[B, C, L]`.
torch::Tensor magnitude_warp(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& eps,
                             const torch::Tensor& basis);

struct MagnitudeWarpOptions {
  /// Upper bound of sigma_M.
  TORCH_ARG(double, eta) = 0.05;
  /// Initial sigma_M as a fraction of eta, in (0, 1).
  TORCH_ARG(double, init) = 0.5;
  /// Number of knots k >= 2 (8 as the paper's appendix A.1; 4 in the reference code).
  TORCH_ARG(int64_t, knots) = 8;
  TORCH_ARG(Interpolation, interpolation) = Interpolation::Linear;
};

class MagnitudeWarpImpl : public torch::nn::Cloneable<MagnitudeWarpImpl> {
 public:
  explicit MagnitudeWarpImpl(const MagnitudeWarpOptions& options = {});
  void reset() override;

  /// Fresh noise for `x`: eps `[B, C, k]` ~ N(0, 1).
  torch::Tensor sample_noise(const torch::Tensor& x) const;
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor transform(const torch::Tensor& x, const torch::Tensor& eps);
  /// Current sigma_M, a scalar tensor in (0, eta).
  torch::Tensor sigma() const;

  MagnitudeWarpOptions options;
  torch::Tensor raw;

 private:
  InterpolationBasis basis_;
};
TORCH_MODULE(MagnitudeWarp);

}  // namespace leaves::augment
