// Time distortion T_TD: the paper's new augmentation (section 3.1.1, Fig. 4).
//
// A Gaussian mixture with M components and learnable weights pi = softmax(a),
// means mu and scales s = softplus(r) + min_scale draws one location per
// (sample, time step): z ~ sum_i pi_i N(mu_i, s_i^2). The locations are squashed
// to [-1, 1] with tanh and sorted, lambda = sort(tanh(z)), so that they form a
// monotone warp; the view is the signal resampled there by linear interpolation
// (grid_sample-style, align_corners = true): lambda = -1 is the first sample,
// lambda = 1 the last, i.e. index = (lambda + 1) (L - 1) / 2 (the paper: "-1
// corresponds to position 1, 1 to position L"). Where the mixture is dense, the
// signal is stretched; where it is sparse, compressed.
//
// Gradients reach pi, mu and s through implicit reparameterisation (Figurnov et
// al. 2018): for a sample z of the mixture with CDF F and density p,
//   dz/dtheta = -(dF(z; theta)/dtheta) / p(z; theta),
// the derivative of the quantile function F^{-1}(u; theta) at u = F(z). This is
// exact and needs no relaxation of the component choice. It is realised as
//   z - (F(z) - stop_gradient(F(z))) / stop_gradient(p(z)),   whose value is z.
// Sampling (TimeDistortionSampling):
//  * Ancestral (default, fast): a component by its weight, then a Gaussian draw.
//  * InverseCdf: z = F^{-1}(u) by bisection for uniforms u held by the caller; the
//    same distribution and the same gradient, and z is a smooth function of
//    theta for fixed u, which is what finite-difference checks need.
// By default one warp per sample is shared by all channels (the leads of one
// recording share one clock); `per_channel` draws one warp per channel (the
// paper's N x C x L notation).
//
// Initialisation: component i is centred on bin i of M equal bins of [-1, 1]
// in the tanh domain (mu_i = atanh(c_i), c_i = -1 + (2 i + 1) / M) with a
// scale of one bin width mapped back through atanh, so the initial warp is
// close to the identity and the adversary learns where to distort.
#pragma once
#include <torch/torch.h>

#include <string>

namespace leaves::augment {

enum class TimeDistortionSampling { Ancestral, InverseCdf };
TimeDistortionSampling parse_time_distortion_sampling(const std::string& name);
std::string to_string(TimeDistortionSampling s);

/// CDF of the mixture at `z` (any shape), `[...]`; differentiable in the parameters.
torch::Tensor mixture_cdf(const torch::Tensor& z, const torch::Tensor& weights, const torch::Tensor& means,
                          const torch::Tensor& scales);
/// Density of the mixture at `z`.
torch::Tensor mixture_pdf(const torch::Tensor& z, const torch::Tensor& weights, const torch::Tensor& means,
                          const torch::Tensor& scales);

/// Functional resampling: `x` `[B, C, L]` at sorted locations `lambda`
/// `[B, 1 or C, L]` in [-1, 1]. Returns `[B, C, L]`.
torch::Tensor time_distort(const torch::Tensor& x, const torch::Tensor& lambda);

struct TimeDistortionNoise {
  torch::Tensor component_u;  ///< `[B, W, L]` uniforms choosing components (ancestral)
  torch::Tensor eps;          ///< `[B, W, L]` standard normals (ancestral)
  torch::Tensor quantile_u;   ///< `[B, W, L]` uniforms (inverse CDF); W = 1 or C
};

struct TimeDistortionOptions {
  /// Number of mixture components M >= 1 (the paper: 12, 10, 7, 6 per dataset).
  TORCH_ARG(int64_t, components) = 5;
  /// One warp per channel instead of one per sample.
  TORCH_ARG(bool, per_channel) = false;
  TORCH_ARG(TimeDistortionSampling, sampling) = TimeDistortionSampling::Ancestral;
  /// Lower bound of every component's scale (> 0).
  TORCH_ARG(double, min_scale) = 1e-3;
};

class TimeDistortionImpl : public torch::nn::Cloneable<TimeDistortionImpl> {
 public:
  explicit TimeDistortionImpl(const TimeDistortionOptions& options = {});
  void reset() override;

  TimeDistortionNoise sample_noise(const torch::Tensor& x) const;
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor transform(const torch::Tensor& x, const TimeDistortionNoise& noise);
  /// Sorted locations lambda `[B, W, L]` in [-1, 1], differentiable in the mixture.
  torch::Tensor locations(const TimeDistortionNoise& noise) const;

  torch::Tensor weights() const;  ///< pi `[M]`
  torch::Tensor means() const;    ///< mu `[M]`
  torch::Tensor scales() const;   ///< s `[M]`

  TimeDistortionOptions options;
  torch::Tensor logits, mu, rho;  ///< raw learnable parameters `[M]` each
};
TORCH_MODULE(TimeDistortion);

}  // namespace leaves::augment
