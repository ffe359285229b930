// CUDA kernels of the segment permutation (augment/permutation.h): its index,
// and the relaxed estimator's K inner products, each as one launch instead of
// the ~26 LibTorch operators of an index (times K + 1 per step for the relaxed
// estimator) and K gathers, products and sums.
//
// Plain CUDA behind raw pointers and a stream, like engine/cuda/batchnorm_act.h:
// nvcc never compiles LibTorch's headers; permutation.cpp calls these. Both
// kernels compute each row's layout with engine/permutation_rows.h, the code
// the CPU loops run.
#pragma once
#include <cstdint>

typedef struct CUstream_st* cudaStream_t;

namespace leaves::engine::cuda {

enum class Real : int { Float = 0, Double = 1 };

/// out[b, j] (int64, [B, L]) = the source of output position j of row b with
/// counts[b] (int64, 1 <= counts[b] <= K) segments ordered by keys[b, :]
/// ([B, K] of `type`). Counts outside [1, K] are clamped into it (the caller
/// checks them). Returns nullptr, or the error's description.
const char* permutation_index(const int64_t* counts, const void* keys, Real type, int64_t B, int64_t K, int64_t L,
                              int64_t* out, cudaStream_t stream);

/// out[b, n - 1] ([B, K] of `type`) = sum over c, j of
/// grad[b, c, j] x[b, c, P_n(b, j)] for n = 1..K, where P_n is the index with
/// n segments ordered by keys[b, :]: the inner products <grad, P_n(x)> of the
/// relaxed estimator, summed in double in a fixed order (deterministic).
/// grad and x are contiguous [B, C, L] of `type`.
const char* relaxed_permutation_products(const void* grad, const void* x, const void* keys, Real type, int64_t B,
                                         int64_t C, int64_t L, int64_t K, void* out, cudaStream_t stream);

}  // namespace leaves::engine::cuda
