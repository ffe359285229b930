// ViewMaker 1D (Tamkin et al. 2020), the paper's 1D reproduction (section 5.1):
// a convolutional generator that outputs a perturbation delta under an L1 budget.
//
// Network (the 2D ViewMaker with 1D layers; ReLU; reflection padding; instance
// norm with affine parameters):
//   [x, U(0,1) noise]  -> Conv(C+1, 32, k9) IN ReLU -> Conv(32, 64, k3, s2) IN ReLU
//   -> Conv(64, 128, k3, s2) IN ReLU
//   -> R residual blocks; before block r a fresh noise channel is concatenated,
//      so block r works on 128 + r channels (conv k3, IN, ReLU, conv k3, IN, + skip)
//   -> nearest x2, Conv(128 + R, 64, k3) IN ReLU -> nearest x2, Conv(64, 32, k3) IN ReLU
//   -> Conv(32, C, k9)  = y
//   delta = tanh(y) * budget / mean|tanh(y)|   (mean over channels and time, per sample)
//   view  = x + delta
// so mean|delta| equals the distortion budget epsilon for every sample. About
// 580k parameters for C = 1 (the paper's figure). Any L works: the input is
// padded (replicate) to a multiple of 4 (and at least 16) and the output cropped.
#pragma once
#include <torch/torch.h>

#include "leaves/views/view_generator.h"

namespace leaves::views {

struct ViewMakerOptions {
  explicit ViewMakerOptions(int64_t channels = 1) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  /// L1 distortion budget epsilon: mean |delta| per sample.
  TORCH_ARG(double, budget) = 0.05;
  /// Residual blocks, 0..5.
  TORCH_ARG(int64_t, residual_blocks) = 5;
  /// Upper bound of the uniform noise channels.
  TORCH_ARG(double, noise_bound) = 1.0;
};

class ViewMakerImpl : public ViewGenerator {
 public:
  explicit ViewMakerImpl(const ViewMakerOptions& options = ViewMakerOptions());
  void reset();

  torch::Tensor forward(const torch::Tensor& x) override;
  /// The perturbation delta `[B, C, L]` (before it is added to x).
  torch::Tensor delta(const torch::Tensor& x);

  std::string kind() const override { return "viewmaker"; }
  std::vector<std::string> report_names() const override;
  torch::Tensor report() const override;
  int64_t parameter_count() const;

  ViewMakerOptions options;

 private:
  struct Block {
    torch::nn::Conv1d conv1{nullptr}, conv2{nullptr};
    torch::nn::InstanceNorm1d norm1{nullptr}, norm2{nullptr};
  };
  torch::Tensor with_noise(const torch::Tensor& y) const;
  torch::Tensor conv(torch::nn::Conv1d& c, const torch::Tensor& y, int64_t kernel) const;

  torch::nn::Conv1d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr}, up1_{nullptr}, up2_{nullptr}, out_{nullptr};
  torch::nn::InstanceNorm1d in1_{nullptr}, in2_{nullptr}, in3_{nullptr}, in4_{nullptr}, in5_{nullptr};
  std::vector<Block> blocks_;
};
TORCH_MODULE(ViewMaker);

}  // namespace leaves::views
