// The segment permutation of one row (permutation.h), as plain code shared by
// the CPU loops (permutation.cpp) and the CUDA kernels (cuda/permutation.cu),
// so that both compute the same index by the same arithmetic.
//
// A row of L positions cut into n segments, segment s covering the t with
// floor(t n / L) = s, i.e. [ceil(s L / n), ceil((s + 1) L / n)); the segments
// are laid out in the order of their keys (the first n of the row's K keys;
// equal keys keep their index order); output position j reads the source
// position src[r] + j - end[r - 1] of the segment of rank r whose output span
// [end[r - 1], end[r]) holds j.
#pragma once
#include <cstdint>

#if defined(__CUDACC__) || defined(LEAVES_CUDA_EMULATION)
#define LEAVES_HOST_DEVICE __host__ __device__
#else
#define LEAVES_HOST_DEVICE
#endif

namespace leaves::engine::rows {

/// The layout of a row with n segments (1 <= n <= K): for each rank r < n,
/// the source start `src[r]` of the segment of that rank and the end
/// `end[r]` of its span in the output. `order` is scratch for n ints.
template <typename T>
LEAVES_HOST_DEVICE inline void segment_layout(int64_t n, const T* keys, int64_t L, int* order, int64_t* src,
                                              int64_t* end) {
  for (int i = 0; i < n; ++i) {  // insertion sort of the first n keys: n is small
    int j = i;
    while (j > 0 && keys[order[j - 1]] > keys[i]) {
      order[j] = order[j - 1];
      --j;
    }
    order[j] = i;
  }
  int64_t e = 0;
  for (int r = 0; r < n; ++r) {
    const int64_t s = order[r];
    const int64_t a = (s * L + n - 1) / n, b = ((s + 1) * L + n - 1) / n;  // ceil(s L / n), ceil((s + 1) L / n)
    src[r] = a;
    e += b - a;
    end[r] = e;
  }
}

/// The source of output position j (0 <= j < L): the first rank whose span
/// ends after j, found by bisection among the n ends.
LEAVES_HOST_DEVICE inline int64_t source_of(int64_t j, int64_t n, const int64_t* src, const int64_t* end) {
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (end[mid] > j) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return src[lo] + j - (lo > 0 ? end[lo - 1] : 0);
}

}  // namespace leaves::engine::rows
