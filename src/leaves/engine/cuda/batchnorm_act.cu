// CUDA kernels of the fused BatchNorm + residual + LeakyReLU (see batchnorm_act.h).
//
// Every kernel uses the same tiling of the [M, C] activations: a block of
// (TX, TY) = 256 threads, TX packs of V adjacent channels (V values are one
// 16-byte load where C allows) by TY rows; a warp therefore reads whole
// contiguous rows (C = 64 in bf16: 4 rows of 128 bytes). gridDim.y tiles the
// channels, gridDim.x the rows (each thread strides over rows). Reductions
// write one partial per channel per row-block; a second kernel (one block per
// channel) combines them in double, in a fixed order.
//
// The same source also runs on the CPU, in the tests: with
// LEAVES_CUDA_EMULATION defined (tests/engine/cuda_emulation.h), a launch runs
// the blocks one after another, each block's threads as real threads with a
// barrier for __syncthreads(); so indexing, tiling and the reductions are
// checked against LibTorch's ops without a GPU.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#ifndef LEAVES_CUDA_EMULATION
#include <cuda_runtime.h>
#define LEAVES_LAUNCH(grid, block, shared, stream, ...) __VA_ARGS__<<<grid, block, shared, stream>>>
#define LEAVES_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "leaves/engine/cuda/batchnorm_act.h"

namespace leaves::engine::cuda {
namespace {

constexpr int kThreads = 256;     // per tile block
constexpr int kFinalize = 128;    // per channel block of the combining kernels
constexpr int kBlocksPerSm = 4;   // row-blocks of a reduction: about this many blocks per SM in all

template <typename T>
__device__ __forceinline__ float to_float(T v);
template <>
__device__ __forceinline__ float to_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
template <>
__device__ __forceinline__ float to_float<__half>(__half v) {
  return __half2float(v);
}

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}

// V values of one row, loaded and stored as one aligned vector.
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};
template <typename T, int V>
__device__ __forceinline__ Pack<T, V> load(const T* p) {
  return *reinterpret_cast<const Pack<T, V>*>(p);
}
template <typename T, int V>
__device__ __forceinline__ void store(T* p, const Pack<T, V>& q) {
  *reinterpret_cast<Pack<T, V>*>(p) = q;
}

// The normalised value before residual and activation. One function for the
// forward and for the backward's recomputation, so both round (and contract
// into an FMA) identically: the recomputed sign is the forward's.
__device__ __forceinline__ float normalized(float x, float scale, float shift) { return x * scale + shift; }

// LeakyReLU's gradient as LibTorch's backward computes and stores it: in
// float, rounded to the activations' type. `positive`: the activation's input > 0.
template <typename T>
__device__ __forceinline__ float act_grad(float dy, bool positive, bool activate, float slope) {
  if (!activate || positive) return dy;
  return to_float<T>(from_float<T>(dy * slope));
}

// ---------------------------------------------------------------------------
// Forward statistics: per-thread Welford, Chan's combination over the block's
// rows, one (count, mean, M2) partial per channel per row-block.
template <int V>
struct Welford {
  float n = 0.f, mean[V], m2[V];
  __device__ Welford() {
#pragma unroll
    for (int k = 0; k < V; ++k) mean[k] = m2[k] = 0.f;
  }
  __device__ __forceinline__ void add(const float (&v)[V]) {
    n += 1.f;
    const float inv = 1.f / n;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const float d = v[k] - mean[k];
      mean[k] += d * inv;
      m2[k] += d * (v[k] - mean[k]);
    }
  }
};

// Chan's combination of the block's TY threads of each channel pack (a tree
// in shared memory, fixed order), then the block's partial per channel:
// part[0][g][c] count, part[1][g][c] mean, part[2][g][c] M2. Every thread of
// the block must call it (it synchronises); `shared` holds 256 (2 V + 1) floats.
template <int V>
__device__ void welford_partials(const Welford<V>& w, float* shared, bool active, int cp, int C,
                                 float* __restrict__ part) {
  const int TX = blockDim.x, TY = blockDim.y, tx = threadIdx.x, ty = threadIdx.y;
  constexpr int S = 2 * V + 1;  // count, means, M2s
  float* mine = shared + (ty * TX + tx) * S;
  mine[0] = w.n;
#pragma unroll
  for (int k = 0; k < V; ++k) mine[1 + k] = w.mean[k], mine[1 + V + k] = w.m2[k];
  __syncthreads();
  for (int s = TY / 2; s > 0; s >>= 1) {
    if (ty < s) {
      const float* other = shared + ((ty + s) * TX + tx) * S;
      const float nb = other[0];
      if (nb > 0.f) {  // an empty `mine` (na = 0) takes `other` exactly
        const float na = mine[0], nt = na + nb, wb = nb / nt;
#pragma unroll
        for (int k = 0; k < V; ++k) {
          const float d = other[1 + k] - mine[1 + k];
          mine[1 + k] += d * wb;
          mine[1 + V + k] += other[1 + V + k] + d * d * na * wb;
        }
        mine[0] = nt;
      }
    }
    __syncthreads();
  }
  if (ty == 0 && active) {
    const int64_t G = gridDim.x, g = blockIdx.x;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const int64_t c = static_cast<int64_t>(cp) * V + k;
      part[g * C + c] = mine[0];
      part[(G + g) * C + c] = mine[1 + k];
      part[(2 * G + g) * C + c] = mine[1 + V + k];
    }
  }
}

// Sums over the block's TY threads of each channel pack, then the block's
// partial per channel: part[0][g][c] sum(gz), part[1][g][c] sum(gz (x - mean)).
// Every thread must call it; `shared` holds 256 (2 V) floats.
template <int V>
__device__ void sum_partials(const float (&sg)[V], const float (&sgx)[V], float* shared, bool active, int cp, int C,
                             float* __restrict__ part) {
  const int TX = blockDim.x, TY = blockDim.y, tx = threadIdx.x, ty = threadIdx.y;
  constexpr int S = 2 * V;
  float* mine = shared + (ty * TX + tx) * S;
#pragma unroll
  for (int k = 0; k < V; ++k) mine[k] = sg[k], mine[V + k] = sgx[k];
  __syncthreads();
  for (int s = TY / 2; s > 0; s >>= 1) {
    if (ty < s) {
      const float* other = shared + ((ty + s) * TX + tx) * S;
#pragma unroll
      for (int k = 0; k < S; ++k) mine[k] += other[k];
    }
    __syncthreads();
  }
  if (ty == 0 && active) {
    const int64_t G = gridDim.x, g = blockIdx.x;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const int64_t c = static_cast<int64_t>(cp) * V + k;
      part[g * C + c] = mine[k];
      part[(G + g) * C + c] = mine[V + k];
    }
  }
}

template <typename T, int V>
__global__ void __launch_bounds__(kThreads) stats_kernel(const T* __restrict__ x, int64_t M, int C,
                                                         float* __restrict__ part) {
  LEAVES_DYNAMIC_SHARED(float, shared);
  const int TY = blockDim.y;
  const int CP = C / V, cp = blockIdx.y * blockDim.x + threadIdx.x;
  Welford<V> w;
  if (cp < CP) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * TY;
    for (int64_t r = static_cast<int64_t>(blockIdx.x) * TY + threadIdx.y; r < M; r += step) {
      const auto p = load<T, V>(x + r * C + static_cast<int64_t>(cp) * V);
      float v[V];
#pragma unroll
      for (int k = 0; k < V; ++k) v[k] = to_float(p.v[k]);
      w.add(v);
    }
  }
  welford_partials<V>(w, shared, cp < CP, cp, C, part);
}

// One block per channel: the partials combined in double (Chan), then the
// saved statistics, the running statistics and the affine coefficients.
__global__ void __launch_bounds__(kFinalize) finalize_stats_kernel(
    const float* __restrict__ part, int64_t G, int C, const float* __restrict__ weight, const float* __restrict__ bias,
    float* running_mean, float* running_var, double momentum, double eps, float* __restrict__ save_mean,
    float* __restrict__ save_invstd, float* __restrict__ scale, float* __restrict__ shift) {
  __shared__ double sn[kFinalize], smean[kFinalize], sm2[kFinalize];
  const int c = blockIdx.x, t = threadIdx.x;
  double n = 0, mean = 0, m2 = 0;
  for (int64_t g = t; g < G; g += blockDim.x) {
    const double nb = part[g * C + c];
    if (nb <= 0) continue;
    const double mb = part[(G + g) * C + c], qb = part[(2 * G + g) * C + c];
    const double nt = n + nb, d = mb - mean;
    mean += d * nb / nt;
    m2 += qb + d * d * n * nb / nt;
    n = nt;
  }
  sn[t] = n, smean[t] = mean, sm2[t] = m2;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s && sn[t + s] > 0) {
      const double na = sn[t], nb = sn[t + s], nt = na + nb, d = smean[t + s] - smean[t];
      smean[t] += d * nb / nt;
      sm2[t] += sm2[t + s] + d * d * na * nb / nt;
      sn[t] = nt;
    }
    __syncthreads();
  }
  if (t == 0) {
    const double N = sn[0], mu = smean[0], var = sm2[0] / N;  // biased: the normalisation's
    const double invstd = 1.0 / sqrt(var + eps);
    save_mean[c] = static_cast<float>(mu);
    save_invstd[c] = static_cast<float>(invstd);
    const double a = static_cast<double>(weight[c]) * invstd;
    scale[c] = static_cast<float>(a);
    shift[c] = static_cast<float>(static_cast<double>(bias[c]) - mu * a);
    if (running_mean) running_mean[c] = static_cast<float>((1 - momentum) * running_mean[c] + momentum * mu);
    if (running_var) {
      running_var[c] = static_cast<float>((1 - momentum) * running_var[c] + momentum * sm2[0] / (N - 1));
    }
  }
}

// y = act(x scale + shift + residual).
template <typename T, int V>
__global__ void __launch_bounds__(kThreads) apply_kernel(const T* __restrict__ x, const T* __restrict__ residual,
                                                         T* __restrict__ y, int64_t M, int C,
                                                         const float* __restrict__ scale,
                                                         const float* __restrict__ shift, bool activate, float slope) {
  const int TX = blockDim.x, TY = blockDim.y;
  const int CP = C / V, cp = blockIdx.y * TX + threadIdx.x;
  if (cp >= CP) return;
  float a[V], b[V];
#pragma unroll
  for (int k = 0; k < V; ++k) a[k] = scale[cp * V + k], b[k] = shift[cp * V + k];
  const int64_t step = static_cast<int64_t>(gridDim.x) * TY;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * TY + threadIdx.y; r < M; r += step) {
    const int64_t off = r * C + static_cast<int64_t>(cp) * V;
    const auto p = load<T, V>(x + off);
    Pack<T, V> res;
    if (residual) res = load<T, V>(residual + off);
    Pack<T, V> out;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      float z = normalized(to_float(p.v[k]), a[k], b[k]);
      if (residual) z += to_float(res.v[k]);
      if (activate && !(z > 0.f)) z *= slope;
      out.v[k] = from_float<T>(z);
    }
    store<T, V>(y + off, out);
  }
}

// ---------------------------------------------------------------------------
// Backward sums: per channel sum(gz) and sum(gz (x - mean)); gz written out
// when the residual's gradient is wanted (it is that gradient).
// The activation's input is positive where the output is (y), or, without a
// residual, where the recomputed normalised x is (`affine`: scale, shift).
template <typename T, int V>
__global__ void __launch_bounds__(kThreads) grad_reduce_kernel(const T* __restrict__ x, const T* __restrict__ y,
                                                               const T* __restrict__ dy, T* __restrict__ gz_out,
                                                               int64_t M, int C, const float* __restrict__ mean,
                                                               const float* __restrict__ affine, bool activate,
                                                               float slope, float* __restrict__ part) {
  LEAVES_DYNAMIC_SHARED(float, shared);
  const int TX = blockDim.x, TY = blockDim.y, tx = threadIdx.x, ty = threadIdx.y;
  const int CP = C / V, cp = blockIdx.y * TX + tx;
  const bool from_x = activate && y == nullptr;
  float sg[V], sgx[V], mu[V], a[V], b[V];
#pragma unroll
  for (int k = 0; k < V; ++k) sg[k] = sgx[k] = 0.f;
  if (cp < CP) {
#pragma unroll
    for (int k = 0; k < V; ++k) {
      mu[k] = mean[cp * V + k];
      a[k] = from_x ? affine[cp * V + k] : 0.f;
      b[k] = from_x ? affine[C + cp * V + k] : 0.f;
    }
    const int64_t step = static_cast<int64_t>(gridDim.x) * TY;
    for (int64_t r = static_cast<int64_t>(blockIdx.x) * TY + ty; r < M; r += step) {
      const int64_t off = r * C + static_cast<int64_t>(cp) * V;
      const auto d = load<T, V>(dy + off);
      const auto p = load<T, V>(x + off);
      Pack<T, V> yp, gp;
      if (activate && !from_x) yp = load<T, V>(y + off);
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const float xv = to_float(p.v[k]);
        const bool positive = from_x ? normalized(xv, a[k], b[k]) > 0.f : activate && to_float(yp.v[k]) > 0.f;
        const float g = act_grad<T>(to_float(d.v[k]), positive, activate, slope);
        gp.v[k] = from_float<T>(g);
        sg[k] += g;
        sgx[k] += g * (xv - mu[k]);
      }
      if (gz_out) store<T, V>(gz_out + off, gp);
    }
  }
  sum_partials<V>(sg, sgx, shared, cp < CP, cp, C, part);
}

// One block per channel: the sums in double, the parameters' gradients, and
// the input gradient's coefficients k1 = gamma invstd, k2 = k1 sum(gz) / M,
// k3 = k1 invstd^2 sum(gz (x - mean)) / M.
__global__ void __launch_bounds__(kFinalize) finalize_grad_kernel(
    const float* __restrict__ part, int64_t G, int C, double M, const float* __restrict__ weight,
    const float* __restrict__ invstd, float* __restrict__ dweight, float* __restrict__ dbias, float* __restrict__ k) {
  __shared__ double s1[kFinalize], s2[kFinalize];
  const int c = blockIdx.x, t = threadIdx.x;
  double a = 0, b = 0;
  for (int64_t g = t; g < G; g += blockDim.x) a += part[g * C + c], b += part[(G + g) * C + c];
  s1[t] = a, s2[t] = b;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) s1[t] += s1[t + s], s2[t] += s2[t + s];
    __syncthreads();
  }
  if (t == 0) {
    const double sg = s1[0], sgx = s2[0], is = invstd[c], k1 = static_cast<double>(weight[c]) * is;
    dbias[c] = static_cast<float>(sg);
    dweight[c] = static_cast<float>(sgx * is);
    k[c] = static_cast<float>(k1);
    k[C + c] = static_cast<float>(k1 * sg / M);
    k[2 * C + c] = static_cast<float>(k1 * is * is * sgx / M);
  }
}

// dx = k1 gz - k2 - k3 (x - mean), gz read back (`gz`) or recomputed from dy and y.
template <typename T, int V>
__global__ void __launch_bounds__(kThreads) input_grad_kernel(const T* __restrict__ x, const T* __restrict__ y,
                                                              const T* __restrict__ dy, const T* __restrict__ gz,
                                                              T* __restrict__ dx, int64_t M, int C,
                                                              const float* __restrict__ mean,
                                                              const float* __restrict__ affine,
                                                              const float* __restrict__ k, bool activate,
                                                              float slope) {
  const int TX = blockDim.x, TY = blockDim.y;
  const int CP = C / V, cp = blockIdx.y * TX + threadIdx.x;
  if (cp >= CP) return;
  const bool from_x = activate && y == nullptr;
  float k1[V], k2[V], k3[V], mu[V], a[V], b[V];
#pragma unroll
  for (int i = 0; i < V; ++i) {
    const int c = cp * V + i;
    k1[i] = k[c], k2[i] = k[C + c], k3[i] = k[2 * C + c], mu[i] = mean[c];
    a[i] = from_x ? affine[c] : 0.f;
    b[i] = from_x ? affine[C + c] : 0.f;
  }
  const int64_t step = static_cast<int64_t>(gridDim.x) * TY;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * TY + threadIdx.y; r < M; r += step) {
    const int64_t off = r * C + static_cast<int64_t>(cp) * V;
    const auto p = load<T, V>(x + off);
    Pack<T, V> g, yp, out;
    const bool recompute = gz == nullptr;
    if (recompute) {
      g = load<T, V>(dy + off);
      if (activate && !from_x) yp = load<T, V>(y + off);
    } else {
      g = load<T, V>(gz + off);
    }
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const float xv = to_float(p.v[i]);
      float gi = to_float(g.v[i]);
      if (recompute) {
        const bool positive = from_x ? normalized(xv, a[i], b[i]) > 0.f : activate && to_float(yp.v[i]) > 0.f;
        gi = act_grad<T>(gi, positive, activate, slope);
      }
      out.v[i] = from_float<T>(k1[i] * gi - k2[i] - k3[i] * (xv - mu[i]));
    }
    store<T, V>(dx + off, out);
  }
}

// ---------------------------------------------------------------------------
// The stem (see batchnorm_act.h): the convolution recomputed in every pass.

constexpr int kStemTile = 64;  // positions per tile of the backward's last pass

struct StemShape {
  int64_t B, L;
  int Ci, C;
};

// The block's copy of the convolution's weights [C][Ci][3]; every thread
// must call it (it synchronises).
__device__ void load_weights(const float* __restrict__ w, int n, float* ws) {
  const int t = threadIdx.y * blockDim.x + threadIdx.x, nt = blockDim.x * blockDim.y;
  for (int i = t; i < n; i += nt) ws[i] = w[i];
  __syncthreads();
}

// The convolution at position l of sample b for channels c0 .. c0 + V - 1:
// bias, then the taps in order, each over the input channels in order. Every
// pass computes z with this function: the same value each time.
template <int V>
__device__ __forceinline__ void stem_conv(const float* __restrict__ x, int64_t b, int64_t l, const StemShape& s,
                                          const float* ws, const float* __restrict__ bias, int c0, float (&z)[V]) {
#pragma unroll
  for (int k = 0; k < V; ++k) z[k] = bias[c0 + k];
  for (int t = 0; t < 3; ++t) {
    const int64_t pos = l + t - 1;
    if (pos < 0 || pos >= s.L) continue;
    const float* xp = x + (b * s.L + pos) * s.Ci;
    for (int ci = 0; ci < s.Ci; ++ci) {
      const float xv = xp[ci];
#pragma unroll
      for (int k = 0; k < V; ++k) z[k] += ws[((c0 + k) * s.Ci + ci) * 3 + t] * xv;
    }
  }
}

__device__ __forceinline__ float leaky(float z, float slope) { return z > 0.f ? z : z * slope; }

// LibTorch's max-pool rule for a pair: the second when it is larger or NaN.
__device__ __forceinline__ bool pool_second(float y0, float y1) { return y1 > y0 || y1 != y1; }

// Statistics of the convolution's output over all B L positions.
template <int V>
__global__ void __launch_bounds__(kThreads) stem_stats_kernel(const float* __restrict__ x, StemShape s,
                                                              const float* __restrict__ w,
                                                              const float* __restrict__ bias,
                                                              float* __restrict__ part) {
  LEAVES_DYNAMIC_SHARED(float, shared);
  float* ws = shared + kThreads * (2 * V + 1);
  load_weights(w, s.C * s.Ci * 3, ws);
  const int TY = blockDim.y;
  const int CP = s.C / V, cp = blockIdx.y * blockDim.x + threadIdx.x;
  Welford<V> acc;
  if (cp < CP) {
    const int64_t M = s.B * s.L, step = static_cast<int64_t>(gridDim.x) * TY;
    for (int64_t r = static_cast<int64_t>(blockIdx.x) * TY + threadIdx.y; r < M; r += step) {
      const int64_t b = r / s.L, l = r - b * s.L;
      float z[V];
      stem_conv<V>(x, b, l, s, ws, bias, cp * V, z);
      acc.add(z);
    }
  }
  welford_partials<V>(acc, shared, cp < CP, cp, s.C, part);
}

// out[b, j] = max(act(norm(z[2j])), act(norm(z[2j + 1]))).
template <typename T, int V>
__global__ void __launch_bounds__(kThreads) stem_apply_kernel(const float* __restrict__ x, StemShape s,
                                                              const float* __restrict__ w,
                                                              const float* __restrict__ bias,
                                                              const float* __restrict__ affine, float slope,
                                                              T* __restrict__ out) {
  LEAVES_DYNAMIC_SHARED(float, ws);
  load_weights(w, s.C * s.Ci * 3, ws);
  const int TY = blockDim.y;
  const int CP = s.C / V, cp = blockIdx.y * blockDim.x + threadIdx.x;
  if (cp >= CP) return;
  float a[V], sh[V];
#pragma unroll
  for (int k = 0; k < V; ++k) a[k] = affine[cp * V + k], sh[k] = affine[s.C + cp * V + k];
  const int64_t Lh = s.L / 2, M = s.B * Lh, step = static_cast<int64_t>(gridDim.x) * TY;
  for (int64_t q = static_cast<int64_t>(blockIdx.x) * TY + threadIdx.y; q < M; q += step) {
    const int64_t b = q / Lh, j = q - b * Lh;
    float z0[V], z1[V];
    stem_conv<V>(x, b, 2 * j, s, ws, bias, cp * V, z0);
    stem_conv<V>(x, b, 2 * j + 1, s, ws, bias, cp * V, z1);
    Pack<T, V> o;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const float y0 = leaky(normalized(z0[k], a[k], sh[k]), slope), y1 = leaky(normalized(z1[k], a[k], sh[k]), slope);
      o.v[k] = from_float<T>(pool_second(y0, y1) ? y1 : y0);
    }
    store<T, V>(out + q * s.C + static_cast<int64_t>(cp) * V, o);
  }
}

// The pooled gradient routed to the maximum, through the activation: gz
// (zero elsewhere), and the sums of gz and gz (z - mean).
template <typename T, int V>
__global__ void __launch_bounds__(kThreads) stem_grad_reduce_kernel(const float* __restrict__ x, StemShape s,
                                                                    const float* __restrict__ w,
                                                                    const float* __restrict__ bias,
                                                                    const T* __restrict__ dout,
                                                                    const float* __restrict__ mean,
                                                                    const float* __restrict__ affine, float slope,
                                                                    float* __restrict__ part) {
  LEAVES_DYNAMIC_SHARED(float, shared);
  float* ws = shared + kThreads * (2 * V);
  load_weights(w, s.C * s.Ci * 3, ws);
  const int TY = blockDim.y;
  const int CP = s.C / V, cp = blockIdx.y * blockDim.x + threadIdx.x;
  float sg[V], sgx[V];
#pragma unroll
  for (int k = 0; k < V; ++k) sg[k] = sgx[k] = 0.f;
  if (cp < CP) {
    float a[V], sh[V], mu[V];
#pragma unroll
    for (int k = 0; k < V; ++k) {
      a[k] = affine[cp * V + k], sh[k] = affine[s.C + cp * V + k], mu[k] = mean[cp * V + k];
    }
    const int64_t Lh = s.L / 2, M = s.B * Lh, step = static_cast<int64_t>(gridDim.x) * TY;
    for (int64_t q = static_cast<int64_t>(blockIdx.x) * TY + threadIdx.y; q < M; q += step) {
      const int64_t b = q / Lh, j = q - b * Lh;
      float z0[V], z1[V];
      stem_conv<V>(x, b, 2 * j, s, ws, bias, cp * V, z0);
      stem_conv<V>(x, b, 2 * j + 1, s, ws, bias, cp * V, z1);
      const auto d = load<T, V>(dout + q * s.C + static_cast<int64_t>(cp) * V);
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const float n0 = normalized(z0[k], a[k], sh[k]), n1 = normalized(z1[k], a[k], sh[k]);
        const bool second = pool_second(leaky(n0, slope), leaky(n1, slope));
        const float g = act_grad<T>(to_float(d.v[k]), (second ? n1 : n0) > 0.f, true, slope);
        sg[k] += g;
        sgx[k] += g * ((second ? z1[k] : z0[k]) - mu[k]);
      }
    }
  }
  sum_partials<V>(sg, sgx, shared, cp < CP, cp, s.C, part);
}

// Per tile of kStemTile positions of one sample: the convolution's output
// gradient dz = k1 gz - k2 - k3 (z - mean) at every position (and one either
// side), then the input gradient, and the block's running sums of the
// weights' and the bias's gradients. Blocks stride over the tiles; at the
// end each writes its sums as one partial.
template <typename T>
__global__ void __launch_bounds__(kThreads) stem_input_grad_kernel(const float* __restrict__ x, StemShape s,
                                                                   const float* __restrict__ w,
                                                                   const float* __restrict__ bias,
                                                                   const T* __restrict__ dout,
                                                                   const float* __restrict__ mean,
                                                                   const float* __restrict__ affine,
                                                                   const float* __restrict__ k, float slope,
                                                                   float* __restrict__ dx, float* __restrict__ wpart) {
  LEAVES_DYNAMIC_SHARED(float, shared);
  const int C = s.C, Ci = s.Ci, NW = C * Ci * 3, TL = kStemTile;
  float* ws = shared;                // [C][Ci][3]
  float* xs = ws + NW;               // [TL + 6][Ci]: positions l0 - 3 .. l0 + TL + 2
  float* dz = xs + (TL + 6) * Ci;    // [TL + 2][C]: positions l0 - 1 .. l0 + TL
  float* acc = dz + (TL + 2) * C;    // [NW + C]: this block's sums
  load_weights(w, NW, ws);
  const int t = threadIdx.x, nt = blockDim.x;
  for (int o = t; o < NW + C; o += nt) acc[o] = 0.f;
  const int64_t Lh = s.L / 2, tiles_per_row = (s.L + TL - 1) / TL, tiles = s.B * tiles_per_row;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t b = tile / tiles_per_row, l0 = (tile - b * tiles_per_row) * TL;
    for (int e = t; e < (TL + 6) * Ci; e += nt) {
      const int64_t pos = l0 - 3 + e / Ci;
      xs[e] = pos >= 0 && pos < s.L ? x[(b * s.L + pos) * Ci + e % Ci] : 0.f;
    }
    __syncthreads();
    // xs holds rows l0 - 3 ..: as a [B, L, Ci] array it starts at position l0 - 3 of a sample of its own.
    const StemShape local{1, s.L, Ci, C};
    for (int e = t; e < (TL + 2) * C; e += nt) {
      const int c = e % C;
      const int64_t p = l0 - 1 + e / C;
      float value = 0.f;
      if (p >= 0 && p < s.L) {
        // z at p and at its pool partner, by the same function as the other passes
        // (positions outside the sample are skipped there, as here).
        auto conv_at = [&](int64_t pos) {
          float z[1];
          stem_conv<1>(xs - (l0 - 3) * Ci, 0, pos, local, ws, bias, c, z);
          return z[0];
        };
        const float zp = conv_at(p), a = affine[c], sh = affine[C + c];
        float g = 0.f;
        const int64_t j = p / 2;
        if (j < Lh) {
          const float zq = conv_at(p ^ 1);
          const float z0 = (p & 1) ? zq : zp, z1 = (p & 1) ? zp : zq;
          const bool second = pool_second(leaky(normalized(z0, a, sh), slope), leaky(normalized(z1, a, sh), slope));
          if (second == static_cast<bool>(p & 1)) {
            g = act_grad<T>(to_float(dout[(b * Lh + j) * C + c]), normalized(zp, a, sh) > 0.f, true, slope);
          }
        }
        value = k[c] * g - k[C + c] - k[2 * C + c] * (zp - mean[c]);
      }
      dz[e] = value;
    }
    __syncthreads();
    // dx[l, ci] = sum_c w[c, ci, 0] dz[l + 1] + w[c, ci, 1] dz[l] + w[c, ci, 2] dz[l - 1].
    for (int e = t; e < TL * Ci; e += nt) {
      const int li = e / Ci, ci = e % Ci;
      const int64_t l = l0 + li;
      if (l >= s.L) continue;
      const float* d = dz + (li + 1) * C;  // position l
      float sum = 0.f;
      for (int c = 0; c < C; ++c) {
        const float* wc = ws + (c * Ci + ci) * 3;
        sum += wc[0] * d[C + c] + wc[1] * d[c] + wc[2] * d[-C + c];
      }
      dx[(b * s.L + l) * Ci + ci] = sum;
    }
    // dW[c, ci, tap] += sum_l dz[l] x[l + tap - 1]; dbias[c] += sum_l dz[l].
    const int n = static_cast<int>(s.L - l0 < TL ? s.L - l0 : TL);
    for (int o = t; o < NW + C; o += nt) {
      float sum = 0.f;
      if (o < NW) {
        const int c = o / (Ci * 3), ci = (o / 3) % Ci, tap = o % 3;
        for (int li = 0; li < n; ++li) sum += dz[(li + 1) * C + c] * xs[(li + 2 + tap) * Ci + ci];
      } else {
        for (int li = 0; li < n; ++li) sum += dz[(li + 1) * C + (o - NW)];
      }
      acc[o] += sum;
    }
    __syncthreads();
  }
  for (int o = t; o < NW + C; o += nt) wpart[static_cast<int64_t>(blockIdx.x) * (NW + C) + o] = acc[o];
}

// One block per output: the blocks' partials of the weights' (then the
// bias's) gradients in double, in order.
__global__ void __launch_bounds__(kFinalize) stem_finalize_weights_kernel(const float* __restrict__ wpart, int64_t G,
                                                                          int NW, int C, float* __restrict__ dw,
                                                                          float* __restrict__ db) {
  __shared__ double sum[kFinalize];
  const int o = blockIdx.x, t = threadIdx.x;
  double a = 0;
  for (int64_t g = t; g < G; g += blockDim.x) a += wpart[g * (NW + C) + o];
  sum[t] = a;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) sum[t] += sum[t + s];
    __syncthreads();
  }
  if (t == 0) {
    if (o < NW) {
      dw[o] = static_cast<float>(sum[0]);
    } else {
      db[o - NW] = static_cast<float>(sum[0]);
    }
  }
}

// ---------------------------------------------------------------------------
// Host side: tiling, dispatch.

#ifdef LEAVES_CUDA_EMULATION
int sm_count() { return emulation::sm_count; }
const char* last_error() { return nullptr; }
#else
int sm_count() {
  static std::atomic<int> cache[64];
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) dev = 0;
  if (dev >= 0 && dev < 64) {
    const int hit = cache[dev].load(std::memory_order_relaxed);
    if (hit > 0) return hit;
  }
  int n = 0;
  if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n <= 0) n = 80;
  if (dev >= 0 && dev < 64) cache[dev].store(n, std::memory_order_relaxed);
  return n;
}

const char* last_error() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}
#endif

// Row-blocks of a reduction: the bound that sizes the workspace.
int64_t max_row_blocks() { return static_cast<int64_t>(kBlocksPerSm) * sm_count(); }

struct Tiling {
  int v = 1, tx = 1, ty = kThreads;
  int64_t channel_tiles = 1, row_blocks = 1;
  dim3 grid() const { return dim3(static_cast<unsigned>(row_blocks), static_cast<unsigned>(channel_tiles)); }
  dim3 block() const { return dim3(static_cast<unsigned>(tx), static_cast<unsigned>(ty)); }
};

// TX: packs per block row (a power of two up to 32), TY = 256 / TX; the row-blocks:
// for reductions about kBlocksPerSm blocks per SM in all (their partials stay
// few), for elementwise passes enough blocks to fill every SM several times.
Tiling tile_rows(int64_t M, int64_t packs, bool reduction) {
  Tiling t;
  t.tx = 1;
  while (t.tx < packs && t.tx < 32) t.tx *= 2;
  t.ty = kThreads / t.tx;
  t.channel_tiles = (packs + t.tx - 1) / t.tx;
  const int64_t rows_needed = (M + t.ty - 1) / t.ty;
  const int64_t budget = reduction ? max_row_blocks() : static_cast<int64_t>(16) * sm_count();
  t.row_blocks = budget / t.channel_tiles;
  if (t.row_blocks < 1) t.row_blocks = 1;
  if (t.row_blocks > rows_needed) t.row_blocks = rows_needed;
  return t;
}

// V: the widest pack (up to 16 bytes) that divides C and keeps every pointer
// aligned; then the tiling of M rows of C / V packs.
Tiling tiling(int64_t M, int64_t C, int elem, std::initializer_list<const void*> ptrs, bool reduction) {
  int v = 16 / elem;
  auto fits = [&](int w) {
    if (C % w) return false;
    for (const void* p : ptrs) {
      if (p && reinterpret_cast<uintptr_t>(p) % (static_cast<uintptr_t>(w) * elem)) return false;
    }
    return true;
  };
  while (v > 1 && !fits(v)) v /= 2;
  Tiling t = tile_rows(M, C / v, reduction);
  t.v = v;
  return t;
}

template <typename F>
void with_type(Dtype d, F&& f) {
  switch (d) {
    case Dtype::Float: f(float{}); break;
    case Dtype::BFloat16: f(__nv_bfloat16{}); break;
    case Dtype::Half: f(__half{}); break;
  }
}

template <typename T, typename F>
void with_pack(int v, F&& f) {
  switch (v) {
    case 8: if constexpr (sizeof(T) <= 2) { f(std::integral_constant<int, 8>{}); break; } [[fallthrough]];
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    default: f(std::integral_constant<int, 1>{}); break;
  }
}

int elem_size(Dtype d) { return d == Dtype::Float ? 4 : 2; }

}  // namespace

int64_t bn_act_workspace_floats(int64_t channels) {
  // Per-channel coefficients (3 C), then the partials ([3][G][C] forward,
  // [2][G][C] backward) for at most max_row_blocks() row-blocks.
  return 3 * channels + 3 * max_row_blocks() * channels;
}

const char* bn_act_forward(const BnActForward& a, cudaStream_t stream) {
  if (a.rows < 2 || a.channels < 1) return "bn_act_forward: need at least 2 rows and 1 channel";
  const int C = static_cast<int>(a.channels);
  const auto t = tiling(a.rows, a.channels, elem_size(a.dtype), {a.x, a.residual, a.y}, true);
  const auto e = tiling(a.rows, a.channels, elem_size(a.dtype), {a.x, a.residual, a.y}, false);
  float* scale = a.save_affine ? a.save_affine : a.workspace;
  float* shift = scale + C;
  float* part = a.workspace + 3 * static_cast<int64_t>(C);
  with_type(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    with_pack<T>(t.v, [&](auto vtag) {
      constexpr int V = decltype(vtag)::value;
      const size_t shared = sizeof(float) * kThreads * (2 * V + 1);
      LEAVES_LAUNCH(t.grid(), t.block(), shared, stream, stats_kernel<T, V>)(static_cast<const T*>(a.x), a.rows, C,
                                                                             part);
    });
    LEAVES_LAUNCH(dim3(C), dim3(kFinalize), 0, stream, finalize_stats_kernel)(
        part, t.row_blocks, C, a.weight, a.bias, a.running_mean, a.running_var, a.momentum, a.eps, a.save_mean,
        a.save_invstd, scale, shift);
    with_pack<T>(e.v, [&](auto vtag) {
      constexpr int V = decltype(vtag)::value;
      LEAVES_LAUNCH(e.grid(), e.block(), 0, stream, apply_kernel<T, V>)(
          static_cast<const T*>(a.x), static_cast<const T*>(a.residual), static_cast<T*>(a.y), a.rows, C, scale,
          shift, a.activate, a.slope);
    });
  });
  return last_error();
}

const char* bn_act_backward(const BnActBackward& a, cudaStream_t stream) {
  if (a.rows < 2 || a.channels < 1) return "bn_act_backward: need at least 2 rows and 1 channel";
  if (a.activate && !a.y && !a.affine) return "bn_act_backward: the activation needs the forward output or affine";
  if (a.activate && !a.y && a.dresidual) return "bn_act_backward: with a residual, the activation needs the output";
  const int C = static_cast<int>(a.channels);
  void* gz = a.activate ? a.dresidual : nullptr;  // without the activation, dresidual is dy (the caller's)
  const auto t = tiling(a.rows, a.channels, elem_size(a.dtype), {a.x, a.y, a.dy, gz, a.dx}, true);
  const auto e = tiling(a.rows, a.channels, elem_size(a.dtype), {a.x, a.y, a.dy, gz, a.dx}, false);
  float* k = a.workspace;
  float* part = a.workspace + 3 * static_cast<int64_t>(C);
  with_type(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    with_pack<T>(t.v, [&](auto vtag) {
      constexpr int V = decltype(vtag)::value;
      const size_t shared = sizeof(float) * kThreads * (2 * V);
      LEAVES_LAUNCH(t.grid(), t.block(), shared, stream, grad_reduce_kernel<T, V>)(
          static_cast<const T*>(a.x), static_cast<const T*>(a.y), static_cast<const T*>(a.dy), static_cast<T*>(gz),
          a.rows, C, a.save_mean, a.affine, a.activate, a.slope, part);
    });
    LEAVES_LAUNCH(dim3(C), dim3(kFinalize), 0, stream, finalize_grad_kernel)(
        part, t.row_blocks, C, static_cast<double>(a.rows), a.weight, a.save_invstd, a.dweight, a.dbias, k);
    with_pack<T>(e.v, [&](auto vtag) {
      constexpr int V = decltype(vtag)::value;
      LEAVES_LAUNCH(e.grid(), e.block(), 0, stream, input_grad_kernel<T, V>)(
          static_cast<const T*>(a.x), static_cast<const T*>(a.y), static_cast<const T*>(a.dy),
          static_cast<const T*>(gz), static_cast<T*>(a.dx), a.rows, C, a.save_mean, a.affine, k, a.activate,
          a.slope);
    });
  });
  return last_error();
}


// ---------------------------------------------------------------------------
// The stem.

namespace {

// Shared memory of the backward's tile pass, in floats.
int64_t stem_tile_floats(int Ci, int C) {
  const int64_t NW = static_cast<int64_t>(C) * Ci * 3;
  return NW + (kStemTile + 6) * static_cast<int64_t>(Ci) + (kStemTile + 2) * static_cast<int64_t>(C) + NW + C;
}
constexpr int64_t kMaxSharedFloats = 48 * 1024 / 4;  // without opting in to more

int stem_pack(int C) { return C % 4 == 0 ? 4 : 1; }

template <typename F>
void with_stem_pack(int v, F&& f) {
  if (v == 4) {
    f(std::integral_constant<int, 4>{});
  } else {
    f(std::integral_constant<int, 1>{});
  }
}

}  // namespace

bool stem_supported(int in_channels, int channels) {
  if (in_channels < 1 || channels < 1) return false;
  const int64_t NW = static_cast<int64_t>(channels) * in_channels * 3;
  // The statistics pass holds its reduction scratch and the weights.
  return stem_tile_floats(in_channels, channels) <= kMaxSharedFloats && kThreads * 9 + NW <= kMaxSharedFloats;
}

int64_t stem_workspace_floats(int in_channels, int channels) {
  const int64_t C = channels, NW = C * in_channels * 3;
  // Coefficients (3 C), the per-channel partials, the weights' partials.
  return 3 * C + 3 * max_row_blocks() * C + max_row_blocks() * (NW + C);
}

const char* stem_forward(const StemArgs& a, cudaStream_t stream) {
  if (a.batch < 1 || a.length < 2) return "stem_forward: need at least one sample of length 2";
  if (!stem_supported(a.in_channels, a.channels)) return "stem_forward: too many channels for the kernels";
  const StemShape s{a.batch, a.length, a.in_channels, a.channels};
  const int V = stem_pack(a.channels), C = a.channels, NW = a.channels * a.in_channels * 3;
  const int64_t Lh = a.length / 2;
  const auto t = tile_rows(a.batch * a.length, C / V, true);  // rows (b, l), packs of V channels
  const auto tp = tile_rows(a.batch * Lh, C / V, false);     // pooled rows (b, j)
  float* part = a.workspace + 3 * static_cast<int64_t>(C);
  with_stem_pack(V, [&](auto vtag) {
    constexpr int W = decltype(vtag)::value;
    const size_t shared = sizeof(float) * (kThreads * (2 * W + 1) + NW);
    LEAVES_LAUNCH(t.grid(), t.block(), shared, stream, stem_stats_kernel<W>)(a.x, s, a.conv_weight, a.conv_bias, part);
  });
  LEAVES_LAUNCH(dim3(C), dim3(kFinalize), 0, stream, finalize_stats_kernel)(
      part, t.row_blocks, C, a.weight, a.bias, a.running_mean, a.running_var, a.momentum, a.eps, a.save_mean,
      a.save_invstd, a.save_affine, a.save_affine + C);
  with_type(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    with_stem_pack(V, [&](auto vtag) {
      constexpr int W = decltype(vtag)::value;
      LEAVES_LAUNCH(tp.grid(), tp.block(), sizeof(float) * NW, stream, stem_apply_kernel<T, W>)(
          a.x, s, a.conv_weight, a.conv_bias, a.save_affine, a.slope, static_cast<T*>(a.out));
    });
  });
  return last_error();
}

const char* stem_backward(const StemArgs& a, cudaStream_t stream) {
  if (a.batch < 1 || a.length < 2) return "stem_backward: need at least one sample of length 2";
  if (!stem_supported(a.in_channels, a.channels)) return "stem_backward: too many channels for the kernels";
  const StemShape s{a.batch, a.length, a.in_channels, a.channels};
  const int V = stem_pack(a.channels), C = a.channels, NW = a.channels * a.in_channels * 3;
  const int64_t Lh = a.length / 2;
  const auto t = tile_rows(a.batch * Lh, C / V, true);  // pooled rows (b, j), packs of V channels
  float* k = a.workspace;
  float* part = a.workspace + 3 * static_cast<int64_t>(C);
  float* wpart = part + 3 * max_row_blocks() * C;
  const int64_t tiles = a.batch * ((a.length + kStemTile - 1) / kStemTile);
  const int64_t wblocks = tiles < max_row_blocks() ? tiles : max_row_blocks();
  with_type(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    with_stem_pack(V, [&](auto vtag) {
      constexpr int W = decltype(vtag)::value;
      const size_t shared = sizeof(float) * (kThreads * (2 * W) + NW);
      LEAVES_LAUNCH(t.grid(), t.block(), shared, stream, stem_grad_reduce_kernel<T, W>)(
          a.x, s, a.conv_weight, a.conv_bias, static_cast<const T*>(a.dout), a.save_mean, a.save_affine, a.slope,
          part);
    });
    LEAVES_LAUNCH(dim3(C), dim3(kFinalize), 0, stream, finalize_grad_kernel)(
        part, t.row_blocks, C, static_cast<double>(a.batch * a.length), a.weight, a.save_invstd, a.dweight, a.dbias,
        k);
    LEAVES_LAUNCH(dim3(static_cast<unsigned>(wblocks)), dim3(kThreads), sizeof(float) * stem_tile_floats(a.in_channels, C),
                  stream, stem_input_grad_kernel<T>)(a.x, s, a.conv_weight, a.conv_bias,
                                                     static_cast<const T*>(a.dout), a.save_mean, a.save_affine, k,
                                                     a.slope, a.dx, wpart);
  });
  LEAVES_LAUNCH(dim3(NW + C), dim3(kFinalize), 0, stream, stem_finalize_weights_kernel)(wpart, wblocks, NW, C,
                                                                                        a.dconv_weight, a.dconv_bias);
  return last_error();
}

}  // namespace leaves::engine::cuda
