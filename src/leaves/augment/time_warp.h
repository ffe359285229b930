// Time warping T_TW (Um et al. 2017; paper A.1), used by the random SimCLR baseline.
//
// k knots ~ N(1, sigma_T^2) give a smooth, positive speed curve s(t) (interpolated
// like the magnitude warp). Its cumulative sum, rescaled to run from 0 to L - 1,
//
//   w(t) = (L - 1) (S(t) - S(0)) / (S(L-1) - S(0)),   S(t) = sum_{u <= t} s(u),
//
// is a strictly increasing map of [0, L-1] onto itself, and the view is the signal
// resampled along it: out[t] = x(w(t)) by linear interpolation. Differentiable in
// the input and in sigma_T. Speeds are clamped to >= 1e-3 so that w stays monotone
// for any sigma. By default one warp per sample is shared by all its channels
// (the leads of a recording share one clock); `per_channel` draws one per channel.
#pragma once
#include <torch/torch.h>

#include "leaves/augment/common.h"

namespace leaves::augment {

/// The warped positions `[B, W, L]` (index units) for knot noise `eps` `[B, W, k]`.
torch::Tensor time_warp_positions(const torch::Tensor& sigma, const torch::Tensor& eps, const torch::Tensor& basis);

/// Functional form: `x` `[B, C, L]`, `sigma` scalar tensor, `eps` `[B, 1, k]` or
/// `[B, C, k]`, `basis` `[k, L]`. Returns `[B, C, L]`.
torch::Tensor time_warp(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& eps,
                        const torch::Tensor& basis);

struct TimeWarpOptions {
  TORCH_ARG(double, eta) = 0.05;
  TORCH_ARG(double, init) = 0.5;
  TORCH_ARG(int64_t, knots) = 8;  ///< paper appendix A.1: 8 (the reference code: 4)
  TORCH_ARG(Interpolation, interpolation) = Interpolation::Linear;
  /// One warp per channel instead of one per sample.
  TORCH_ARG(bool, per_channel) = false;
};

class TimeWarpImpl : public torch::nn::Cloneable<TimeWarpImpl> {
 public:
  explicit TimeWarpImpl(const TimeWarpOptions& options = {});
  void reset() override;

  /// Fresh noise for `x`: eps `[B, 1 or C, k]` ~ N(0, 1).
  torch::Tensor sample_noise(const torch::Tensor& x) const;
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor transform(const torch::Tensor& x, const torch::Tensor& eps);
  torch::Tensor sigma() const;

  TimeWarpOptions options;
  torch::Tensor raw;

 private:
  InterpolationBasis basis_;
};
TORCH_MODULE(TimeWarp);

}  // namespace leaves::augment
