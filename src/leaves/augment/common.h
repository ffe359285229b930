// Shared pieces of the differentiable augmentations: input and option checks,
// bounded learnable intensities, knot interpolation bases and linear resampling.
//
// Shapes: a batch of time series is always `[B, C, L]` (batch, channels, time).
#pragma once
#include <torch/torch.h>

#include <string>

namespace leaves::augment {

/// Throws std::invalid_argument naming `who` unless `x` is a floating-point
/// `[B, C, L]` tensor with B, C, L >= 1.
void check_series(const torch::Tensor& x, const std::string& who);

/// Throws std::invalid_argument "`who`: option `name` must be ..., got v" when
/// `ok` is false.
void check_option(bool ok, const std::string& who, const std::string& name,
                  const std::string& expected, double got);

/// Raw parameter value r such that `lo + (hi - lo) * sigmoid(r) == value`.
/// `value` must lie strictly inside (lo, hi).
double bounded_init(double value, double lo, double hi);

/// `lo + (hi - lo) * sigmoid(raw)`: a learnable intensity kept inside (lo, hi).
torch::Tensor bounded(const torch::Tensor& raw, double lo, double hi);

/// Validates `eta` (> 0) and `init` (in (0, 1)) for augmentation `who` and
/// registers on `module` the raw parameter "raw" of an intensity
/// sigma = eta * sigmoid(raw) that starts at init * eta.
torch::Tensor register_intensity(torch::nn::Module& module, const std::string& who, double eta, double init);

/// How the k knots of a warp curve are interpolated over the L time steps.
enum class Interpolation {
  Linear,  ///< piecewise linear, knots evenly spaced from t = 0 to t = L - 1 (paper A.1)
  Cubic,   ///< natural cubic spline through the same knots (Um et al. 2017)
};
Interpolation parse_interpolation(const std::string& name);
std::string to_string(Interpolation mode);

/// The `[k, L]` matrix W with `curve = knots.matmul(W)`: interpolation is linear in
/// the knot values, so one matrix product turns knots `[..., k]` into curves
/// `[..., L]`. Knot j sits at t_j = j (L - 1) / (k - 1). Computed once per
/// (k, L, mode) in double precision and cached per device and dtype.
class InterpolationBasis {
 public:
  torch::Tensor get(int64_t knots, int64_t length, Interpolation mode,
                    const torch::TensorOptions& options);

 private:
  struct Key {
    int64_t knots = -1, length = -1;
    Interpolation mode = Interpolation::Linear;
    torch::Device device = torch::kCPU;
    torch::Dtype dtype = torch::kFloat;
  };
  Key key_;
  torch::Tensor cached_;
};

/// Computes the basis on the CPU in double precision, `[k, L]`.
torch::Tensor interpolation_basis(int64_t knots, int64_t length, Interpolation mode);

/// Linear resampling of `x` `[B, C, L]` at fractional positions `pos`
/// `[B, 1, L']` (one warp shared by all channels) or `[B, C, L']`, in index
/// units: 0 is the first sample, L - 1 the last; positions are clamped to that
/// range. `out[b, c, j] = (1 - f) x[b, c, i] + f x[b, c, i + 1]` with
/// `i = floor(pos)` and `f = pos - i`; resampling at `pos = 0, 1, ..., L - 1`
/// returns `x` exactly. Differentiable in `x` and in `pos`. Returns `[B, C, L']`.
torch::Tensor resample_linear(const torch::Tensor& x, const torch::Tensor& pos);

}  // namespace leaves::augment
