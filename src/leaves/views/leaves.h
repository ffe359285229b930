// The LEAVES module (paper section 3.1, Eq. 1): a chain of differentiable
// augmentations with about 20 learnable intensity parameters,
//
//   view = X -> T_J(sigma_J) -> T_S(sigma_S) -> T_MW(sigma_M) -> T_TD(pi, mu, s) -> T_P(k)
//
// with the magnitude sigmas bounded by eta, M mixture components in the time
// distortion and at most K permutation segments. Each call draws fresh
// randomness; `sample_noise` + `forward(x, noise)` hold it fixed.
//
// Optional per-(sample, channel) min-max normalisation of the view to [0, 1]
// (the reference code always does it). Off by default: the data pipeline
// standardises inputs, and min-max rescaling would change the units of the view
// relative to its source. Turn it on to match the reference code.
#pragma once
#include <torch/torch.h>

#include "leaves/augment/jitter.h"
#include "leaves/augment/magnitude_warp.h"
#include "leaves/augment/permutation.h"
#include "leaves/augment/scale.h"
#include "leaves/augment/time_distortion.h"
#include "leaves/views/view_generator.h"

namespace leaves::views {

struct LeavesOptions {
  /// Bound of the magnitude sigmas (jitter, scale, magnitude warp); paper: 0.05.
  TORCH_ARG(double, eta) = 0.05;
  /// Mixture components M of the time distortion (paper: 12/10/7/6 per dataset).
  TORCH_ARG(int64_t, mixture_components) = 5;
  /// Maximum permutation segments K (paper: 5).
  TORCH_ARG(int64_t, max_segments) = 5;
  /// Knots of the magnitude warp: 8, the paper's (appendix A.1: "we fix k to be 8"; the reference code uses 4).
  TORCH_ARG(int64_t, magwarp_knots) = 8;
  TORCH_ARG(augment::Interpolation, magwarp_interpolation) = augment::Interpolation::Linear;
  /// Initial magnitude sigmas as a fraction of eta, in (0, 1).
  TORCH_ARG(double, init) = 0.5;
  /// One time distortion per channel instead of one per sample.
  TORCH_ARG(bool, per_channel_distortion) = false;
  TORCH_ARG(augment::TimeDistortionSampling, sampling) = augment::TimeDistortionSampling::Ancestral;
  TORCH_ARG(augment::PermutationEstimator, perm_estimator) = augment::PermutationEstimator::Relaxed;
  /// Min-max normalise each (sample, channel) of the view to [0, 1].
  TORCH_ARG(bool, normalize) = false;
};

struct LeavesNoise {
  torch::Tensor jitter, scale, magwarp;
  augment::TimeDistortionNoise distortion;
  augment::PermutationNoise permutation;
};

class LeavesImpl : public ViewGenerator {
 public:
  explicit LeavesImpl(const LeavesOptions& options = {});
  void reset();

  torch::Tensor forward(const torch::Tensor& x) override;
  /// The chain with all randomness given; distortion and permutation noise are
  /// drawn for the shapes they see (the chain keeps [B, C, L]).
  torch::Tensor transform(const torch::Tensor& x, const LeavesNoise& noise);
  LeavesNoise sample_noise(const torch::Tensor& x) const;

  std::string kind() const override { return "leaves"; }
  std::vector<std::string> report_names() const override;
  torch::Tensor report() const override;

  LeavesOptions options;
  augment::Jitter jitter{nullptr};
  augment::Scale scale{nullptr};
  augment::MagnitudeWarp magwarp{nullptr};
  augment::TimeDistortion distortion{nullptr};
  augment::Permutation permutation{nullptr};
};
TORCH_MODULE(Leaves);

}  // namespace leaves::views
