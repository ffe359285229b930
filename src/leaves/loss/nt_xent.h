// NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (paper Eq. 2-3).
//
// For N pairs (z1[k], z2[k]) the 2N embeddings are L2-normalised, the 2N x 2N
// cosine-similarity matrix S is divided by tau, its diagonal is excluded, and
//   l(i, j) = -S_ij / tau + logsumexp_{k != i} S_ik / tau,
//   L = (1 / 2N) sum_k [l(k, k + N) + l(k + N, k)],
// computed for all rows at once (one matrix product and one log-sum-exp).
// tau = 0.05 by default, the paper's value (the reference code uses 0.5).
#pragma once
#include <torch/torch.h>

namespace leaves::loss {

/// `z1`, `z2` `[N, D]` (N >= 1) -> scalar loss. Invariant to the scale of each
/// embedding. Computed in float32 at least (bf16/fp16 inputs are upcast).
torch::Tensor nt_xent(const torch::Tensor& z1, const torch::Tensor& z2, double tau = 0.05);

}  // namespace leaves::loss

namespace leaves::loss {

/// NT-Xent restricted to a shard of anchors: rows [first, first + count) of z1
/// and the same rows of z2, each against all 2N embeddings, averaged over
/// those 2 count anchors. The mean over shards that partition the rows equals
/// nt_xent(z1, z2, tau): this is the data-parallel loss, where each rank owns
/// its rows of the globally gathered z1, z2 (SimCLR's global negatives).
torch::Tensor nt_xent_rows(const torch::Tensor& z1, const torch::Tensor& z2, double tau, int64_t first,
                           int64_t count);

}  // namespace leaves::loss
