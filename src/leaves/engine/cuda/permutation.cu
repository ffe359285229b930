// CUDA kernels of the segment permutation (see permutation.h).
//
// One block per row (the index) or per row and segment count (the relaxed
// estimator's products). Thread 0 lays the row out (permutation_rows.h: an
// insertion sort of at most K keys, then the K segment bounds) in shared
// memory; then every thread finds the source of its positions by bisection
// among the bounds. The products are summed per thread in double, then over
// the block by a tree in a fixed order.
//
// The same source runs on the CPU in the tests (tests/engine/cuda_emulation.h).
#ifndef LEAVES_CUDA_EMULATION
#include <cuda_runtime.h>
#define LEAVES_LAUNCH(grid, block, shared, stream, ...) __VA_ARGS__<<<grid, block, shared, stream>>>
// 16-byte aligned: the row layout keeps int64 values there.
#define LEAVES_DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) type name[]
#endif

#include <cstdint>

#include "leaves/engine/cuda/permutation.h"
#include "leaves/engine/permutation_rows.h"

namespace leaves::engine::cuda {
namespace {

constexpr int kPermutationThreads = 256;

// Shared memory of a row's layout: the ends and starts (int64), then the order (int).
size_t layout_bytes(int64_t K) { return static_cast<size_t>(K) * (2 * sizeof(int64_t) + sizeof(int)); }

// Thread 0 lays out row `b` with n segments into shared memory; every thread
// must call it (it synchronises). Returns the layout's arrays through src, end.
template <typename T>
__device__ void layout_row(const T* __restrict__ keys, int64_t b, int64_t K, int64_t n, int64_t L, int64_t* src,
                           int64_t* end, int* order) {
  if (threadIdx.x == 0) rows::segment_layout(n, keys + b * K, L, order, src, end);
  __syncthreads();
}

__device__ __forceinline__ int64_t clamp_count(int64_t n, int64_t K) { return n < 1 ? 1 : (n > K ? K : n); }

template <typename T>
__global__ void __launch_bounds__(kPermutationThreads) index_kernel(const int64_t* __restrict__ counts, const T* __restrict__ keys,
                                                         int64_t K, int64_t L, int64_t* __restrict__ out) {
  LEAVES_DYNAMIC_SHARED(float, shared);
  int64_t* end = reinterpret_cast<int64_t*>(shared);
  int64_t* src = end + K;
  int* order = reinterpret_cast<int*>(src + K);
  const int64_t b = blockIdx.x, n = clamp_count(counts[b], K);
  layout_row(keys, b, K, n, L, src, end, order);
  for (int64_t j = threadIdx.x; j < L; j += blockDim.x) out[b * L + j] = rows::source_of(j, n, src, end);
}

template <typename T>
__global__ void __launch_bounds__(kPermutationThreads) products_kernel(const T* __restrict__ grad, const T* __restrict__ x,
                                                            const T* __restrict__ keys, int64_t C, int64_t L,
                                                            int64_t K, T* __restrict__ out) {
  LEAVES_DYNAMIC_SHARED(float, shared);
  __shared__ double sums[kPermutationThreads];
  int64_t* end = reinterpret_cast<int64_t*>(shared);
  int64_t* src = end + K;
  int* order = reinterpret_cast<int*>(src + K);
  const int64_t b = blockIdx.x, n = static_cast<int64_t>(blockIdx.y) + 1;
  layout_row(keys, b, K, n, L, src, end, order);
  double acc = 0;
  const T* g = grad + b * C * L;
  const T* v = x + b * C * L;
  for (int64_t j = threadIdx.x; j < L; j += blockDim.x) {
    const int64_t s = rows::source_of(j, n, src, end);
    for (int64_t c = 0; c < C; ++c) acc += static_cast<double>(g[c * L + j]) * static_cast<double>(v[c * L + s]);
  }
  const int t = threadIdx.x;
  sums[t] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) sums[t] += sums[t + s];
    __syncthreads();
  }
  if (t == 0) out[b * K + n - 1] = static_cast<T>(sums[0]);
}

#ifdef LEAVES_CUDA_EMULATION
const char* permutation_last_error() { return nullptr; }
#else
const char* permutation_last_error() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}
#endif

const char* check_sizes(int64_t B, int64_t K, int64_t L) {
  if (B < 1 || K < 1 || L < 1) return "permutation kernels: B, K and L must be >= 1";
  if (B > 0x7fffffff) return "permutation kernels: more than 2^31 - 1 rows";
  if (K > 65535) return "permutation kernels: K above 65535";
  if (layout_bytes(K) > 40 * 1024) return "permutation kernels: K too large for the row layout in shared memory";
  return nullptr;
}

}  // namespace

const char* permutation_index(const int64_t* counts, const void* keys, Real type, int64_t B, int64_t K, int64_t L,
                              int64_t* out, cudaStream_t stream) {
  if (const char* e = check_sizes(B, K, L)) return e;
  const dim3 grid(static_cast<unsigned>(B)), block(kPermutationThreads);
  if (type == Real::Double) {
    LEAVES_LAUNCH(grid, block, layout_bytes(K), stream, index_kernel<double>)(
        counts, static_cast<const double*>(keys), K, L, out);
  } else {
    LEAVES_LAUNCH(grid, block, layout_bytes(K), stream, index_kernel<float>)(
        counts, static_cast<const float*>(keys), K, L, out);
  }
  return permutation_last_error();
}

const char* relaxed_permutation_products(const void* grad, const void* x, const void* keys, Real type, int64_t B,
                                         int64_t C, int64_t L, int64_t K, void* out, cudaStream_t stream) {
  if (const char* e = check_sizes(B, K, L)) return e;
  if (C < 1) return "relaxed_permutation_products: C must be >= 1";
  const dim3 grid(static_cast<unsigned>(B), static_cast<unsigned>(K)), block(kPermutationThreads);
  if (type == Real::Double) {
    LEAVES_LAUNCH(grid, block, layout_bytes(K), stream, products_kernel<double>)(
        static_cast<const double*>(grad), static_cast<const double*>(x), static_cast<const double*>(keys), C, L, K,
        static_cast<double*>(out));
  } else {
    LEAVES_LAUNCH(grid, block, layout_bytes(K), stream, products_kernel<float>)(
        static_cast<const float*>(grad), static_cast<const float*>(x), static_cast<const float*>(keys), C, L, K,
        static_cast<float*>(out));
  }
  return permutation_last_error();
}

}  // namespace leaves::engine::cuda
