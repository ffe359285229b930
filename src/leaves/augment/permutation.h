// Permutation T_P (Um et al. 2017; paper A.1 Eq. 7).
//
// Each sample is cut into n contiguous segments of (nearly) equal length --
// segment s covers t with floor(t n / L) = s -- and the segments are shuffled;
// all channels of a sample move together. n is drawn per sample from {1, ..., K}.
// Everything is vectorised: the source index of every output position is that
// of the argsort of an integer key (rank of the segment, then offset inside it),
// computed without sorting (a search among the K segment bounds), and the view
// is one gather. The gradient with respect to the input is therefore
// exactly the inverse permutation (gather's backward is a scatter).
//
// Learnable segment count. The soft bound k = 1 + (K - 1) sigmoid(p) in (1, K)
// controls which n are drawn. n is discrete, so its gradient needs an estimator;
// two are offered (PermutationEstimator):
//
//  * Relaxed (default): a relaxed categorical over n = 1..K (Gumbel-softmax,
//    Jang et al. 2016; Maddison et al. 2016) with logits
//        l_n = log sigmoid((k + 1/2 - n) / window),
//    a soft version of "uniform over n <= k". Forward: n* = argmax(l + g)
//    with Gumbel noise g, and the view is exactly P_{n*}(x). Backward
//    (straight-through): the view is treated as sum_n y_n P_n(x) with
//    y = softmax((l + g) / tau), so dL/dk = sum_n dy_n/dk <dL/dview, P_n(x)>:
//    a first-order estimate of how the loss would change if more or fewer
//    segments were drawn. The forward costs nothing more; the backward
//    computes the K products <dL/dview, P_n(x)> (one kernel on CUDA, loops on
//    the CPU: relaxed_permutation_products), never the K permuted signals.
//  * RelaxedBernoulli (the paper's appendix A.2): n = 1 + sum_i b_i over the
//    K - 1 cut decisions b_i ~ Bernoulli(p_i), p_i = P(n > i) under the same
//    distribution of n as above (the normalised window weights), all drawn
//    with one logistic noise, so the b_i are nested and n has exactly that
//    distribution. Each b_i is relaxed as the paper writes it, sigmoid((log p_i
//    - log(1 - p_i) + log u - log(1 - u)) / t) with t = 0.01 (`bernoulli_temperature`);
//    y_n = b_{n-1} - b_n (b_0 = 1, b_K = 0) are then weights over n, and the
//    backward is the relaxed estimator's: dL/dk = sum_n dy_n/dk <dL/dview,
//    P_n(x)>. The forward is the hard draw (u > 1 - p_i). With t this small
//    the gradient comes from the draws near a threshold: sparse, unbiased in
//    the limit, with a high variance.
//  * StraightThrough: as in the reference code's spirit, n = round(1 + (k - 1) u),
//    u ~ U(0, 1); the gradient passes through the rounding as if the view
//    scaled with the unrounded n_soft: dL/dk = u <dL/dview, view>. Cheaper,
//    cruder.
//
// Both give finite gradients that are not identically zero; neither changes the
// input gradient, which stays the exact inverse permutation.
#pragma once
#include <torch/torch.h>

#include <string>

namespace leaves::augment {

/// Source index `[B, L]` (int64) of a segment permutation: `out[b, :, j] =
/// x[b, :, idx[b, j]]`. `counts` `[B]` int64 in [1, K] segments per sample,
/// `keys` `[B, K]` random keys ordering the segments (only the first n used).
/// On the CPU, loops over rows (permutation_rows.h; a count outside [1, K]
/// throws std::invalid_argument); on CUDA one kernel where leaves' kernels are
/// built (fp32 / fp64 keys; counts clamped into [1, K], no host
/// synchronisation), else LibTorch's operators.
torch::Tensor permutation_index(const torch::Tensor& counts, const torch::Tensor& keys, int64_t length);

/// Whether `permutation_index` and the relaxed estimator's products run on
/// leaves' own code (CPU loops, CUDA kernels; the default) or on LibTorch's
/// operators (the same values: the index exactly, the products to rounding).
/// The environment variable LEAVES_PERMUTATION_KERNELS=0 starts with the
/// operators: a way around the kernels without rebuilding.
void set_permutation_kernels(bool on);
bool permutation_kernels();

/// The same index by LibTorch's operators only (one search among the K
/// segment bounds per position): the reference of the tests.
torch::Tensor permutation_index_reference(const torch::Tensor& counts, const torch::Tensor& keys, int64_t length);

/// The relaxed estimator's products `[B, K]`: out[b, n - 1] = sum over c, j of
/// grad[b, c, j] x[b, c, P_n(b, j)], P_n the index with n segments ordered by
/// keys[b, :] (in x's dtype; summed in double).
torch::Tensor relaxed_permutation_products(const torch::Tensor& grad, const torch::Tensor& x,
                                           const torch::Tensor& keys);
/// The same products by LibTorch's operators only (K indices, gathers, sums),
/// in x's dtype: the reference of the tests and of `leaves bench norm`.
torch::Tensor relaxed_permutation_products_reference(const torch::Tensor& grad, const torch::Tensor& x,
                                                     const torch::Tensor& keys);

/// Applies a source index `[B, L]` to `x` `[B, C, L]` (one gather).
torch::Tensor apply_permutation(const torch::Tensor& x, const torch::Tensor& index);

/// Functional form with a fixed maximum K: n ~ U{1..K} per sample, as used by the
/// random SimCLR baseline. `x` `[B, C, L]` -> `[B, C, L]`.
torch::Tensor random_permutation(const torch::Tensor& x, int64_t max_segments);

enum class PermutationEstimator { Relaxed, StraightThrough, RelaxedBernoulli };
PermutationEstimator parse_permutation_estimator(const std::string& name);
std::string to_string(PermutationEstimator estimator);

struct PermutationNoise {
  torch::Tensor count_u;  ///< `[B, K]` uniforms choosing n (Gumbel noise, or u in column 0)
  torch::Tensor keys;     ///< `[B, K]` uniforms ordering the segments
};

struct PermutationOptions {
  /// K >= 1: the largest number of segments; the learned bound k lies in (1, K).
  TORCH_ARG(int64_t, max_segments) = 5;
  /// Initial k as a fraction of the way from 1 to K, in (0, 1).
  TORCH_ARG(double, init) = 0.5;
  TORCH_ARG(PermutationEstimator, estimator) = PermutationEstimator::Relaxed;
  /// Gumbel-softmax temperature tau of the relaxed estimator (> 0).
  TORCH_ARG(double, temperature) = 1.0;
  /// Softness of the window "n <= k" in the relaxed estimator's logits (> 0).
  TORCH_ARG(double, window) = 0.5;
  /// Temperature t of the RelaxedBernoulli estimator's cut decisions (> 0; paper A.2: 0.01).
  TORCH_ARG(double, bernoulli_temperature) = 0.01;
};

class PermutationImpl : public torch::nn::Cloneable<PermutationImpl> {
 public:
  explicit PermutationImpl(const PermutationOptions& options = {});
  void reset() override;

  PermutationNoise sample_noise(const torch::Tensor& x) const;
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor transform(const torch::Tensor& x, const PermutationNoise& noise);
  /// The segment counts `[B]` (int64) that `noise` selects at the current k.
  torch::Tensor counts(const PermutationNoise& noise) const;
  /// Current soft bound k, a scalar tensor in (1, K) (1 when K = 1).
  torch::Tensor max_segments() const;

  PermutationOptions options;
  torch::Tensor raw;
};
TORCH_MODULE(Permutation);

}  // namespace leaves::augment
