// The random-augmentation baseline of SimCLR (paper section 5.2): the same
// operations with fixed intensities T(sigma), no learnable parameters.
//
//   view = X -> T_J(sigma) -> T_S(sigma) -> T_MW(sigma) -> T_TW(sigma) -> T_P(K)
//
// sigma is shared by jitter, scale, magnitude warp and time warp (the paper sweeps
// 0.01..0.05); the permutation draws n ~ U{1..K} segments per sample (K = 5).
// The order mirrors LEAVES with the time warp in the time distortion's place.
#pragma once
#include <torch/torch.h>

#include "leaves/augment/common.h"
#include "leaves/views/view_generator.h"

namespace leaves::views {

struct RandomViewsOptions {
  /// The shared sigma of T(sigma).
  TORCH_ARG(double, sigma) = 0.03;
  TORCH_ARG(int64_t, max_segments) = 5;
  TORCH_ARG(int64_t, knots) = 8;  ///< magnitude and time warp knots (paper appendix A.1: 8)
  TORCH_ARG(augment::Interpolation, interpolation) = augment::Interpolation::Linear;
  /// One time warp per channel instead of one per sample.
  TORCH_ARG(bool, per_channel_warp) = false;
};

class RandomViewsImpl : public ViewGenerator {
 public:
  explicit RandomViewsImpl(const RandomViewsOptions& options = {});
  void reset();

  torch::Tensor forward(const torch::Tensor& x) override;
  std::string kind() const override { return "random"; }
  bool learnable() const override { return false; }
  std::vector<std::string> report_names() const override;
  torch::Tensor report() const override;

  RandomViewsOptions options;

 private:
  augment::InterpolationBasis basis_;
};
TORCH_MODULE(RandomViews);

}  // namespace leaves::views
