#include "leaves/engine/cpu_conv.h"

#include <ATen/Parallel.h>

#if defined(__linux__)
#include <dlfcn.h>
// The BLAS's matrix product, declared weak: only its address is taken, to ask
// the dynamic loader which library provides it (null where none is loaded).
extern "C" void sgemm_() __attribute__((weak));
#endif

#include <algorithm>
#include <atomic>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <chrono>
#include <stdexcept>
#include <vector>

namespace leaves::engine {

CpuConv parse_cpu_conv(const std::string& name, const std::string& option) {
  if (name == "auto") return CpuConv::Auto;
  if (name == "blas") return CpuConv::Blas;
  if (name == "torch") return CpuConv::Torch;
  throw std::invalid_argument(option + " must be auto, blas or torch, got '" + name + "'");
}

const char* cpu_conv_name(CpuConv c) {
  switch (c) {
    case CpuConv::Auto: return "auto";
    case CpuConv::Blas: return "blas";
    case CpuConv::Torch: return "torch";
  }
  return "?";
}

double blas_gflops() {
  static const double gflops = [] {
    torch::NoGradGuard no_grad;
    const int64_t m = 256, k = 256, n = 1024;
    auto a = torch::randn({m, k}), b = torch::randn({k, n}), c = torch::empty({m, n});
    at::mm_out(c, a, b);  // warm-up (thread pools, first-touch)
    double best = 1e30;
    for (int i = 0; i < 3; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      at::mm_out(c, a, b);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return 2.0 * m * k * n / best / 1e9;
  }();
  return gflops;
}

std::string blas_library() {
#if defined(__linux__)
  Dl_info info{};
  if (&sgemm_ != nullptr && dladdr(reinterpret_cast<void*>(&sgemm_), &info) != 0 && info.dli_fname != nullptr) {
    char resolved[PATH_MAX];
    if (realpath(info.dli_fname, resolved) != nullptr) return resolved;
    return info.dli_fname;
  }
#endif
  return "";
}

bool blas_is_fast() {
  static const bool fast = [] {
    // By name first: a timing taken while other processes load the machine
    // (tests run two at a time) can mislead.
    std::string lib = blas_library();
    std::transform(lib.begin(), lib.end(), lib.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const char* name : {"openblas", "mkl", "blis", "armpl", "accelerate"}) {
      if (lib.find(name) != std::string::npos) return true;
    }
    if (lib.find("/blas/libblas") != std::string::npos) return false;  // Debian's reference BLAS
    return blas_gflops() >= 20.0;
  }();
  return fast;
}

bool use_blas_conv(CpuConv c) {
  if (c == CpuConv::Blas) return true;
  if (c == CpuConv::Torch) return false;
  return blas_is_fast();
}

bool winograd_applicable(const torch::Tensor& x, const torch::Tensor& w) {
  return x.defined() && w.defined() && x.device().is_cpu() && w.device().is_cpu() && x.dim() == 3 &&
         w.dim() == 3 && w.size(2) == 3 && w.size(1) == x.size(1) && x.size(2) >= 1 &&
         x.scalar_type() == w.scalar_type() &&
         (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble);
}

namespace {
std::atomic<int64_t> winograd_calls{0}, im2col_calls{0};
}  // namespace

CpuConvCalls cpu_conv_calls() { return {winograd_calls.load(), im2col_calls.load()}; }

int64_t library_parallel_threads() {
  std::atomic<uint64_t> seen{0};
  at::parallel_for(0, 64, 1, [&](int64_t, int64_t) {
    seen.fetch_or(uint64_t{1} << std::min(at::get_thread_num(), 63));
  });
  return __builtin_popcountll(seen.load());
}

namespace winograd_impl {

// F(4, 3) with the points 0, 1, -1, 2, -2 and infinity (Lavin and Gray 2016).
// B^T (6 x 6) acts on a tile d of 6 inputs, G (6 x 3) on the kernel, A^T (4 x 6)
// maps the 6 products to 4 outputs. B^T and A^T are written out in the loops
// below; G is this table.
constexpr double kG[6][3] = {{1.0 / 4, 0, 0},
                             {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                             {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                             {1.0 / 24, 1.0 / 12, 1.0 / 6},
                             {1.0 / 24, -1.0 / 12, 1.0 / 6},
                             {0, 0, 1}};

constexpr int64_t kM = 4;  // outputs per tile
constexpr int64_t kN = 6;  // inputs per tile (= transformed points)

int64_t tiles_for(int64_t length) { return (length + kM - 1) / kM; }

// Per-thread scratch buffers that live as long as the thread (OpenMP's pool
// threads do), grown on demand: a step's transformed tiles are never
// allocated afresh, so the kernel never zero-fills their pages again, and two
// threads never contend for the address space (page faults of one process
// serialise). At B = 64 they reach ~25 MB per thread.
torch::Tensor scratch(int slot, int64_t numel, const torch::TensorOptions& options) {
  thread_local std::vector<char> buffers[3];
  auto& b = buffers[slot];
  const size_t bytes = static_cast<size_t>(numel) * options.dtype().itemsize() + 64;
  if (b.size() < bytes) {
    b.clear();
    b.shrink_to_fit();
    b.resize(bytes);
  }
  void* p = b.data() + (64 - reinterpret_cast<uintptr_t>(b.data()) % 64) % 64;
  return torch::from_blob(p, {numel}, options);
}

// The row kernels: one row of a [rows, L] tensor at a time. Each row is first
// split into four phase arrays (p_r[t] = row[4 t + r]) so that the transform
// loops over tiles read and write with unit stride and vectorise.

// Splits the row, shifted right by `shift` (0 or 1: the convolution's left
// padding) and zero-padded, into the phase arrays p_r[t] = row[4 t + r - shift]
// (zero outside the row), each of `n` values; the tiles that lie inside the
// row without a bounds check.
template <typename T>
inline __attribute__((always_inline)) void split_phases(const T* __restrict row, int64_t L, int64_t shift,
                                                        int64_t n, T* __restrict p0, T* __restrict p1,
                                                        T* __restrict p2, T* __restrict p3) {
  const int64_t lo = std::min(n, shift > 0 ? int64_t{1} : int64_t{0});
  const int64_t hi = std::max(lo, std::min(n, (L + shift) / 4));  // t < hi: 4 t + 3 - shift <= L - 1
  auto at = [&](int64_t i) { return i >= 0 && i < L ? row[i] : T(0); };
  for (int64_t t = 0; t < lo; ++t) {
    p0[t] = at(4 * t - shift), p1[t] = at(4 * t + 1 - shift), p2[t] = at(4 * t + 2 - shift),
    p3[t] = at(4 * t + 3 - shift);
  }
  for (int64_t t = lo; t < hi; ++t) {
    const T* q = row + (4 * t - shift);
    p0[t] = q[0], p1[t] = q[1], p2[t] = q[2], p3[t] = q[3];
  }
  for (int64_t t = hi; t < n; ++t) {
    p0[t] = at(4 * t - shift), p1[t] = at(4 * t + 1 - shift), p2[t] = at(4 * t + 2 - shift),
    p3[t] = at(4 * t + 3 - shift);
  }
}

// The shared loop of the two forward transforms: each row [r0, r1) of a
// [rows, L] tensor is split into phase arrays of `n` values (shifted right by
// `shift`), and `tiles(p0, p1, p2, p3, o0, ..., o5, nt)` writes the six
// transformed values of each tile t to o_a[t], o_a = out + a * plane for the
// row's place in the output. (`tiles` takes restrict pointers: through an
// array of pointers GCC could not rule out aliasing and left the loop scalar.)
template <typename T, typename Tiles>
inline __attribute__((always_inline)) void transform_rows(const T* x, int64_t L, int64_t nt, int64_t n, int64_t shift,
                                                          int64_t r0, int64_t r1, int64_t channels, int64_t batch_tiles,
                                                          int64_t plane, T* dst, Tiles tiles) {
  std::vector<T> scratch(4 * n);
  T* buf = scratch.data();
  for (int64_t r = r0; r < r1; ++r) {
    split_phases(x + r * L, L, shift, n, buf, buf + n, buf + 2 * n, buf + 3 * n);
    const int64_t b = r / channels, c = r % channels;
    T* out = dst + c * batch_tiles + b * nt;
    tiles(buf, buf + n, buf + 2 * n, buf + 3 * n, out, out + plane, out + 2 * plane, out + 3 * plane,
          out + 4 * plane, out + 5 * plane, nt);
  }
}

// Tiles of the row zero-padded by one on the left (and zeros past the end):
// d_j(t) = pad[4 t + j] with pad[i] = row[i - 1], mapped by B^T. Tile t also
// reads p0 and p1 at t + 1, hence one phase value more.
template <typename T>
inline __attribute__((always_inline)) void input_tiles(const T* __restrict p0, const T* __restrict p1,
                                                       const T* __restrict p2, const T* __restrict p3,
                                                       T* __restrict o0, T* __restrict o1, T* __restrict o2,
                                                       T* __restrict o3, T* __restrict o4, T* __restrict o5,
                                                       int64_t nt) {
  for (int64_t t = 0; t < nt; ++t) {
    const T d0 = p0[t], d1 = p1[t], d2 = p2[t], d3 = p3[t], d4 = p0[t + 1], d5 = p1[t + 1];
    o0[t] = 4 * d0 - 5 * d2 + d4;
    o1[t] = -4 * d1 - 4 * d2 + d3 + d4;
    o2[t] = 4 * d1 - 4 * d2 - d3 + d4;
    o3[t] = -2 * d1 - d2 + 2 * d3 + d4;
    o4[t] = 2 * d1 - d2 - 2 * d3 + d4;
    o5[t] = 4 * d1 - 5 * d3 + d5;
  }
}
template <typename T>
inline __attribute__((always_inline)) void input_rows(const T* x, int64_t L, int64_t nt, int64_t r0, int64_t r1,
                                                      int64_t channels, int64_t batch_tiles, int64_t plane, T* V) {
  transform_rows(x, L, nt, nt + 1, 1, r0, r1, channels, batch_tiles, plane, V, input_tiles<T>);
}

// The output gradient's tiles h (4 values, zeros past the end), mapped by A
// (6 x 4), for the weight gradient.
template <typename T>
inline __attribute__((always_inline)) void grad_tiles(const T* __restrict p0, const T* __restrict p1,
                                                      const T* __restrict p2, const T* __restrict p3,
                                                      T* __restrict o0, T* __restrict o1, T* __restrict o2,
                                                      T* __restrict o3, T* __restrict o4, T* __restrict o5,
                                                      int64_t nt) {
  for (int64_t t = 0; t < nt; ++t) {
    const T h0 = p0[t], h1 = p1[t], h2 = p2[t], h3 = p3[t];
    o0[t] = h0;
    o1[t] = h0 + h1 + h2 + h3;
    o2[t] = h0 - h1 + h2 - h3;
    o3[t] = h0 + 2 * h1 + 4 * h2 + 8 * h3;
    o4[t] = h0 - 2 * h1 + 4 * h2 - 8 * h3;
    o5[t] = h3;
  }
}
template <typename T>
inline __attribute__((always_inline)) void grad_rows(const T* g, int64_t L, int64_t nt, int64_t r0, int64_t r1,
                                                     int64_t channels, int64_t batch_tiles, int64_t plane, T* D) {
  transform_rows(g, L, nt, nt, 0, r0, r1, channels, batch_tiles, plane, D, grad_tiles<T>);
}

// The six products of each tile mapped to its four outputs by A^T, plus the bias.
template <typename T>
inline __attribute__((always_inline)) void output_tiles(const T* __restrict m0, const T* __restrict m1,
                                                        const T* __restrict m2, const T* __restrict m3,
                                                        const T* __restrict m4, const T* __restrict m5,
                                                        T* __restrict Y0, T* __restrict Y1, T* __restrict Y2,
                                                        T* __restrict Y3, T beta, int64_t nt) {
  for (int64_t t = 0; t < nt; ++t) {
    const T a1 = m1[t] + m2[t], s1 = m1[t] - m2[t], a2 = m3[t] + m4[t], s2 = m3[t] - m4[t];
    Y0[t] = m0[t] + a1 + a2 + beta;
    Y1[t] = s1 + 2 * s2 + beta;
    Y2[t] = a1 + 4 * a2 + beta;
    Y3[t] = s1 + 8 * s2 + m5[t] + beta;
  }
}

// The rows' outputs from the six products of their tiles, cut at L.
template <typename T>
inline __attribute__((always_inline)) void output_rows(const T* M, int64_t L, int64_t nt, int64_t r0, int64_t r1,
                                                       int64_t channels, int64_t batch_tiles, int64_t plane,
                                                       const T* bias, T* y) {
  std::vector<T> scratch(4 * nt);
  T *Y0 = scratch.data(), *Y1 = Y0 + nt, *Y2 = Y1 + nt, *Y3 = Y2 + nt;
  const int64_t full = L / 4;  // tiles whose four outputs all lie inside the row
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = r / channels, c = r % channels;
    const T* in = M + c * batch_tiles + b * nt;
    const T *m0 = in, *m1 = in + plane, *m2 = in + 2 * plane, *m3 = in + 3 * plane, *m4 = in + 4 * plane,
            *m5 = in + 5 * plane;
    output_tiles(m0, m1, m2, m3, m4, m5, Y0, Y1, Y2, Y3, bias ? bias[c] : T(0), nt);
    T* row = y + r * L;
    for (int64_t t = 0; t < full; ++t) {
      row[4 * t] = Y0[t];
      row[4 * t + 1] = Y1[t];
      row[4 * t + 2] = Y2[t];
      row[4 * t + 3] = Y3[t];
    }
    const T* last[4] = {Y0, Y1, Y2, Y3};
    for (int64_t i = 4 * full; i < L; ++i) row[i] = last[i - 4 * full][full];
  }
}

// U[a, j] = sum_k G[a, k] w[j, k] for the kernel taps j in [j0, j1) of
// w [Co Ci, 3], reversed (w[j, 2 - k]) with `flip`; in double, rounded once.
template <typename T>
inline __attribute__((always_inline)) void kernel_rows(const T* __restrict src, int64_t j0, int64_t j1,
                                                       int64_t plane, bool flip, T* __restrict dst) {
  const int first = flip ? 2 : 0, last = flip ? 0 : 2;
  for (int64_t j = j0; j < j1; ++j) {
    const double k0 = src[3 * j + first], k1 = src[3 * j + 1], k2 = src[3 * j + last];
    for (int a = 0; a < 6; ++a) dst[a * plane + j] = static_cast<T>(kG[a][0] * k0 + kG[a][1] * k1 + kG[a][2] * k2);
  }
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define LEAVES_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LEAVES_CLONES
#endif

// The entry points: for float a non-template overload, so that GCC can build
// an AVX2 clone of each loop and pick it at load time (the library itself is
// built for baseline x86-64); for double the plain template.
LEAVES_CLONES void input_rows_any(const float* x, int64_t L, int64_t nt, int64_t r0, int64_t r1, int64_t ch,
                                  int64_t bt, int64_t plane, float* V) {
  input_rows<float>(x, L, nt, r0, r1, ch, bt, plane, V);
}
LEAVES_CLONES void grad_rows_any(const float* g, int64_t L, int64_t nt, int64_t r0, int64_t r1, int64_t ch,
                                 int64_t bt, int64_t plane, float* D) {
  grad_rows<float>(g, L, nt, r0, r1, ch, bt, plane, D);
}
LEAVES_CLONES void output_rows_any(const float* M, int64_t L, int64_t nt, int64_t r0, int64_t r1, int64_t ch,
                                   int64_t bt, int64_t plane, const float* bias, float* y) {
  output_rows<float>(M, L, nt, r0, r1, ch, bt, plane, bias, y);
}
LEAVES_CLONES void kernel_rows_any(const float* src, int64_t j0, int64_t j1, int64_t plane, bool flip,
                                   float* dst) {
  kernel_rows<float>(src, j0, j1, plane, flip, dst);
}
void kernel_rows_any(const double* src, int64_t j0, int64_t j1, int64_t plane, bool flip, double* dst) {
  kernel_rows<double>(src, j0, j1, plane, flip, dst);
}
void input_rows_any(const double* x, int64_t L, int64_t nt, int64_t r0, int64_t r1, int64_t ch, int64_t bt,
                    int64_t plane, double* V) {
  input_rows<double>(x, L, nt, r0, r1, ch, bt, plane, V);
}
void grad_rows_any(const double* g, int64_t L, int64_t nt, int64_t r0, int64_t r1, int64_t ch, int64_t bt,
                   int64_t plane, double* D) {
  grad_rows<double>(g, L, nt, r0, r1, ch, bt, plane, D);
}
void output_rows_any(const double* M, int64_t L, int64_t nt, int64_t r0, int64_t r1, int64_t ch, int64_t bt,
                     int64_t plane, const double* bias, double* y) {
  output_rows<double>(M, L, nt, r0, r1, ch, bt, plane, bias, y);
}

// The sum of the per-thread partial results (undefined slots skipped).
torch::Tensor sum_slots(const std::vector<torch::Tensor>& slots) {
  torch::Tensor total;
  for (const auto& t : slots) {
    if (!t.defined()) continue;
    if (total.defined()) {
      total.add_(t);
    } else {
      total = t;
    }
  }
  return total;
}

// Work split: the batch is cut into groups of whole samples of about
// `kTargetTiles` tiles, and each thread runs the whole pipeline on its groups
// (transform, six matrix products, inverse transform) with no barrier in
// between: a group's transformed tiles stay in that core's caches, and the
// BLAS runs single-threaded inside the parallel region (OpenBLAS and MKL do so
// under OpenMP), so its threads never wait on each other.
constexpr int64_t kTargetTiles = 512;

struct Groups {
  int64_t count, size;  // number of groups, samples per group
};
Groups groups_for(int64_t batch, int64_t tiles_per_sample, int64_t target = kTargetTiles) {
  const int64_t threads = std::max<int64_t>(1, at::get_num_threads());
  int64_t size = std::max<int64_t>(1, target / std::max<int64_t>(1, tiles_per_sample));
  size = std::min(size, (batch + threads - 1) / threads);  // at least one group per thread
  return {(batch + size - 1) / size, size};
}

// at::parallel_for over the groups with grad mode off in every thread: it is
// thread-local and on by default in the pool's threads, whose products would
// then refuse the parameters' views as out= arguments.
template <typename F>
void for_groups(int64_t count, const F& f) {
  at::parallel_for(0, count, 1, [&](int64_t c0, int64_t c1) {
    torch::NoGradGuard no_grad;
    f(c0, c1);
  });
}

// U [6, Co, Ci] (kernel already transformed), input [B, Ci, L] -> [B, Co, L]
torch::Tensor convolve(const torch::Tensor& x, const torch::Tensor& U, const torch::Tensor& bias) {
  const int64_t B = x.size(0), Ci = x.size(1), L = x.size(2), Co = U.size(1), nt = tiles_for(L);
  auto xc = x.contiguous();
  auto y = torch::empty({B, Co, L}, x.options());
  auto bc = bias.defined() ? bias.contiguous() : bias;
  const Groups gr = groups_for(B, nt);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "winograd_conv", [&] {
    const scalar_t* src = xc.data_ptr<scalar_t>();
    const scalar_t* bp = bc.defined() ? bc.data_ptr<scalar_t>() : nullptr;
    scalar_t* dst = y.data_ptr<scalar_t>();
    for_groups(gr.count, [&](int64_t c0, int64_t c1) {
      auto Vbuf = scratch(0, kN * Ci * gr.size * nt, x.options());
      auto Mbuf = scratch(1, kN * Co * gr.size * nt, x.options());
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t b0 = c * gr.size, b1 = std::min(B, b0 + gr.size), bt = (b1 - b0) * nt;
        auto V = Vbuf.narrow(0, 0, kN * Ci * bt).view({kN, Ci, bt});
        auto M = Mbuf.narrow(0, 0, kN * Co * bt).view({kN, Co, bt});
        input_rows_any(src + b0 * Ci * L, L, nt, 0, (b1 - b0) * Ci, Ci, bt, Ci * bt,
                                 V.data_ptr<scalar_t>());
        for (int64_t a = 0; a < kN; ++a) {
          auto out = M[a];
          at::mm_out(out, U[a], V[a]);
        }
        output_rows_any(M.data_ptr<scalar_t>(), L, nt, 0, (b1 - b0) * Co, Co, bt, Co * bt, bp,
                                  dst + b0 * Co * L);
      }
    });
  });
  return y;
}

// sum over tiles of (A g)(B^T x) per point: [6, Co, Ci]. Each thread sums its
// groups into its own slot (the first product writes it, beta = 0; the BLAS
// accumulates the next ones, beta = 1); the slots are added at the end.
torch::Tensor weight_products(const torch::Tensor& x, const torch::Tensor& g) {
  const int64_t B = x.size(0), Ci = x.size(1), L = x.size(2), Co = g.size(1), nt = tiles_for(L);
  auto xc = x.contiguous(), gc = g.contiguous();
  const Groups gr = groups_for(B, nt);
  std::vector<torch::Tensor> slots(gr.count);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "winograd_wgrad", [&] {
    const scalar_t* xs = xc.data_ptr<scalar_t>();
    const scalar_t* gs = gc.data_ptr<scalar_t>();
    for_groups(gr.count, [&](int64_t c0, int64_t c1) {
      auto Vbuf = scratch(0, kN * Ci * gr.size * nt, x.options());
      auto Dbuf = scratch(1, kN * Co * gr.size * nt, x.options());
      auto P = torch::empty({kN, Co, Ci}, x.options());
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t b0 = c * gr.size, b1 = std::min(B, b0 + gr.size), bt = (b1 - b0) * nt;
        auto V = Vbuf.narrow(0, 0, kN * Ci * bt).view({kN, Ci, bt});
        auto D = Dbuf.narrow(0, 0, kN * Co * bt).view({kN, Co, bt});
        input_rows_any(xs + b0 * Ci * L, L, nt, 0, (b1 - b0) * Ci, Ci, bt, Ci * bt, V.data_ptr<scalar_t>());
        grad_rows_any(gs + b0 * Co * L, L, nt, 0, (b1 - b0) * Co, Co, bt, Co * bt, D.data_ptr<scalar_t>());
        for (int64_t a = 0; a < kN; ++a) {
          auto out = P[a];
          if (c == c0) {
            at::mm_out(out, D[a], V[a].t());  // the thread's first group: no zero fill, no accumulation
          } else {
            at::addmm_out(out, out, D[a], V[a].t());
          }
        }
      }
      slots[c0] = P;  // the ranges are disjoint: one slot per call
    });
  });
  return sum_slots(slots);
}

// U[a, o, i] = sum_k G[a, k] w[o, i, k]; with `flip_transpose`, the kernel of
// the input gradient instead: U[a, i, o] = sum_k G[a, k] w[o, i, 2 - k].
torch::Tensor transform_kernel(const torch::Tensor& w, bool flip_transpose) {
  const int64_t Co = w.size(0), Ci = w.size(1);
  auto wc = w.contiguous();
  // [6, Co, Ci] in the kernel's own order (unit-stride writes that
  // vectorise); the input gradient's [6, Ci, Co] is its transpose.
  auto U = torch::empty({kN, Co, Ci}, w.options());
  AT_DISPATCH_FLOATING_TYPES(w.scalar_type(), "winograd_kernel", [&] {
    const scalar_t* src = wc.data_ptr<scalar_t>();
    scalar_t* dst = U.data_ptr<scalar_t>();
    const int64_t plane = Co * Ci;
    at::parallel_for(0, plane, 4096, [&](int64_t j0, int64_t j1) {
      kernel_rows_any(src, j0, j1, plane, flip_transpose, dst);
    });
  });
  return flip_transpose ? U.transpose(1, 2).contiguous() : U;
}

void check(const torch::Tensor& x, const torch::Tensor& w, const char* what) {
  if (!winograd_applicable(x, w)) {
    std::ostringstream s;
    s << "winograd_conv1d (" << what << "): expected CPU fp32/fp64 input [B, Ci, L >= 1] and kernel [Co, Ci, 3] "
      << "of the same dtype, got input " << x.sizes() << " " << x.dtype() << " on " << x.device() << " and kernel "
      << w.sizes() << " " << w.dtype();
    throw std::invalid_argument(s.str());
  }
}

torch::Tensor forward_impl(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias) {
  check(x, w, "forward");
  return convolve(x, transform_kernel(w, false), bias);
}

struct WinogradConv1dFn : public torch::autograd::Function<WinogradConv1dFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               const torch::Tensor& bias) {
    ctx->save_for_backward({x, w});
    const bool has_bias = bias.numel() > 0;
    ctx->saved_data["has_bias"] = has_bias;
    ++winograd_calls;
    return forward_impl(x, w, has_bias ? bias : torch::Tensor());
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    auto g = grads[0].contiguous();
    torch::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) gx = winograd_detail::input_grad(g, w);
    if (ctx->needs_input_grad(1)) gw = winograd_detail::weight_grad(x, g);
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) gb = g.sum(std::vector<int64_t>{0, 2});
    return {gx, gw, gb};
  }
};

}  // namespace winograd_impl

namespace winograd_detail {
using namespace winograd_impl;

torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& w) { return forward_impl(x, w, torch::Tensor()); }

torch::Tensor input_grad(const torch::Tensor& g, const torch::Tensor& w) {
  // dx = conv1d(g, w'), w'[i, o, k] = w[o, i, 2 - k], stride 1, padding 1.
  check(g, w.transpose(0, 1), "input gradient");
  return convolve(g, transform_kernel(w, true), torch::Tensor());
}

torch::Tensor weight_grad(const torch::Tensor& x, const torch::Tensor& g) {
  if (g.dim() != 3 || x.dim() != 3 || g.size(0) != x.size(0) || g.size(2) != x.size(2) ||
      g.scalar_type() != x.scalar_type() || !g.device().is_cpu()) {
    std::ostringstream s;
    s << "winograd_conv1d (weight gradient): output gradient " << g.sizes() << " does not fit input " << x.sizes();
    throw std::invalid_argument(s.str());
  }
  check(x, torch::empty({g.size(1), x.size(1), 3}, x.options()), "weight gradient");
  const int64_t Co = g.size(1), Ci = x.size(1);
  auto M = weight_products(x, g);  // [6, Co, Ci]
  // dw[o, i, k] = sum_a G[a, k] M[a, o, i]
  auto dw = torch::empty({Co, Ci, 3}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "winograd_wgrad_out", [&] {
    const scalar_t* m = M.data_ptr<scalar_t>();
    scalar_t* out = dw.data_ptr<scalar_t>();
    const int64_t plane = Co * Ci;
    at::parallel_for(0, plane, 4096, [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) {
        for (int k = 0; k < 3; ++k) {
          double acc = 0;
          for (int a = 0; a < 6; ++a) acc += kG[a][k] * m[a * plane + j];
          out[j * 3 + k] = static_cast<scalar_t>(acc);
        }
      }
    });
  });
  return dw;
}

}  // namespace winograd_detail

torch::Tensor winograd_conv1d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  using namespace winograd_impl;
  check(x, weight, "forward");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0))) {
    std::ostringstream s;
    s << "winograd_conv1d: bias must be [" << weight.size(0) << "], got " << bias.sizes();
    throw std::invalid_argument(s.str());
  }
  // Autograd functions take defined tensors only: no bias travels as an empty one.
  return WinogradConv1dFn::apply(x, weight, bias.defined() ? bias : torch::empty({0}, x.options()));
}


// ---------------------------------------------------------------------------
// im2col convolutions (k = 1 or 3, any stride, padding (k - 1) / 2)

bool gemm_applicable(const torch::Tensor& x, const torch::Tensor& w) {
  return x.defined() && w.defined() && x.device().is_cpu() && w.device().is_cpu() && x.dim() == 3 &&
         w.dim() == 3 && (w.size(2) == 1 || w.size(2) == 3) && w.size(1) == x.size(1) && x.size(2) >= 1 &&
         x.scalar_type() == w.scalar_type() &&
         (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble);
}

namespace gemm_impl {

using winograd_impl::for_groups;
using winograd_impl::Groups;
using winograd_impl::groups_for;
using winograd_impl::scratch;
using winograd_impl::sum_slots;

constexpr int64_t kTargetColumns = 1024;  // output positions per group: the products' width

int64_t out_length(int64_t L, int64_t k, int64_t s) { return (L + 2 * ((k - 1) / 2) - k) / s + 1; }

// X[(i k + j), b To + t] = x[b, i, s t + j - p] (zero outside), for the nb
// samples starting at x.
template <typename T>
void im2col(const T* x, int64_t nb, int64_t Ci, int64_t L, int64_t k, int64_t s, int64_t To, T* X) {
  const int64_t p = (k - 1) / 2, cols = nb * To;
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t i = 0; i < Ci; ++i) {
      const T* row = x + (b * Ci + i) * L;
      for (int64_t j = 0; j < k; ++j) {
        T* dst = X + (i * k + j) * cols + b * To;
        for (int64_t t = 0; t < To; ++t) {
          const int64_t q = s * t + j - p;
          dst[t] = (q >= 0 && q < L) ? row[q] : T(0);
        }
      }
    }
  }
}

// The adjoint of im2col: dx[b, i, s t + j - p] += X[(i k + j), b To + t].
template <typename T>
void col2im(const T* X, int64_t nb, int64_t Ci, int64_t L, int64_t k, int64_t s, int64_t To, T* dx) {
  const int64_t p = (k - 1) / 2, cols = nb * To;
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t i = 0; i < Ci; ++i) {
      T* row = dx + (b * Ci + i) * L;
      std::fill(row, row + L, T(0));
      for (int64_t j = 0; j < k; ++j) {
        const T* src = X + (i * k + j) * cols + b * To;
        for (int64_t t = 0; t < To; ++t) {
          const int64_t q = s * t + j - p;
          if (q >= 0 && q < L) row[q] += src[t];
        }
      }
    }
  }
}

// [nb, C, To] samples <-> [C, nb To] columns.
template <typename T>
void to_columns(const T* y, int64_t nb, int64_t C, int64_t To, T* Y) {
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t c = 0; c < C; ++c) std::copy(y + (b * C + c) * To, y + (b * C + c + 1) * To, Y + c * nb * To + b * To);
  }
}
template <typename T>
void from_columns(const T* Y, int64_t nb, int64_t C, int64_t To, const T* bias, T* y) {
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t c = 0; c < C; ++c) {
      const T* src = Y + c * nb * To + b * To;
      T* dst = y + (b * C + c) * To;
      const T beta = bias ? bias[c] : T(0);
      for (int64_t t = 0; t < To; ++t) dst[t] = src[t] + beta;
    }
  }
}

void check(const torch::Tensor& x, const torch::Tensor& w, int64_t stride, const char* what) {
  if (!gemm_applicable(x, w) || stride < 1) {
    std::ostringstream s;
    s << "gemm_conv1d (" << what << "): expected CPU fp32/fp64 input [B, Ci, L >= 1], kernel [Co, Ci, 1 or 3] "
      << "of the same dtype and stride >= 1, got input " << x.sizes() << " " << x.dtype() << " on " << x.device()
      << ", kernel " << w.sizes() << " " << w.dtype() << ", stride " << stride;
    throw std::invalid_argument(s.str());
  }
}

torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias, int64_t s) {
  check(x, w, s, "forward");
  const int64_t B = x.size(0), Ci = x.size(1), L = x.size(2), Co = w.size(0), k = w.size(2);
  const int64_t To = out_length(L, k, s);
  auto xc = x.contiguous();
  auto W = w.contiguous().view({Co, Ci * k});
  auto bc = bias.defined() ? bias.contiguous() : bias;
  auto y = torch::empty({B, Co, To}, x.options());
  const Groups gr = groups_for(B, To, kTargetColumns);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gemm_conv", [&] {
    const scalar_t* xs = xc.data_ptr<scalar_t>();
    const scalar_t* bp = bc.defined() ? bc.data_ptr<scalar_t>() : nullptr;
    scalar_t* ys = y.data_ptr<scalar_t>();
    for_groups(gr.count, [&](int64_t c0, int64_t c1) {
      auto Xbuf = scratch(0, Ci * k * gr.size * To, x.options());
      auto Ybuf = scratch(1, Co * gr.size * To, x.options());
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t b0 = c * gr.size, nb = std::min(B, b0 + gr.size) - b0, cols = nb * To;
        auto X = Xbuf.narrow(0, 0, Ci * k * cols).view({Ci * k, cols});
        auto Y = Ybuf.narrow(0, 0, Co * cols).view({Co, cols});
        im2col<scalar_t>(xs + b0 * Ci * L, nb, Ci, L, k, s, To, X.data_ptr<scalar_t>());
        at::mm_out(Y, W, X);
        from_columns<scalar_t>(Y.data_ptr<scalar_t>(), nb, Co, To, bp, ys + b0 * Co * To);
      }
    });
  });
  return y;
}

torch::Tensor input_grad(const torch::Tensor& g, const torch::Tensor& w, int64_t s, int64_t L) {
  const int64_t B = g.size(0), Co = w.size(0), Ci = w.size(1), k = w.size(2), To = g.size(2);
  auto Wt = w.contiguous().view({Co, Ci * k}).t();  // [Ci k, Co]
  auto gc = g.contiguous();
  auto dx = torch::empty({B, Ci, L}, g.options());
  const Groups gr = groups_for(B, To, kTargetColumns);
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "gemm_conv_input_grad", [&] {
    const scalar_t* gs = gc.data_ptr<scalar_t>();
    scalar_t* dxs = dx.data_ptr<scalar_t>();
    for_groups(gr.count, [&](int64_t c0, int64_t c1) {
      auto Gbuf = scratch(1, Co * gr.size * To, g.options());
      auto Xbuf = scratch(0, Ci * k * gr.size * To, g.options());
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t b0 = c * gr.size, nb = std::min(B, b0 + gr.size) - b0, cols = nb * To;
        auto G = Gbuf.narrow(0, 0, Co * cols).view({Co, cols});
        auto X = Xbuf.narrow(0, 0, Ci * k * cols).view({Ci * k, cols});
        to_columns<scalar_t>(gs + b0 * Co * To, nb, Co, To, G.data_ptr<scalar_t>());
        at::mm_out(X, Wt, G);
        col2im<scalar_t>(X.data_ptr<scalar_t>(), nb, Ci, L, k, s, To, dxs + b0 * Ci * L);
      }
    });
  });
  return dx;
}

torch::Tensor weight_grad(const torch::Tensor& x, const torch::Tensor& g, int64_t k, int64_t s) {
  const int64_t B = x.size(0), Ci = x.size(1), L = x.size(2), Co = g.size(1), To = g.size(2);
  auto xc = x.contiguous(), gc = g.contiguous();
  const Groups gr = groups_for(B, To, kTargetColumns);
  std::vector<torch::Tensor> slots(gr.count);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gemm_conv_weight_grad", [&] {
    const scalar_t* xs = xc.data_ptr<scalar_t>();
    const scalar_t* gs = gc.data_ptr<scalar_t>();
    for_groups(gr.count, [&](int64_t c0, int64_t c1) {
      auto Gbuf = scratch(1, Co * gr.size * To, x.options());
      auto Xbuf = scratch(0, Ci * k * gr.size * To, x.options());
      auto P = torch::empty({Co, Ci * k}, x.options());
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t b0 = c * gr.size, nb = std::min(B, b0 + gr.size) - b0, cols = nb * To;
        auto G = Gbuf.narrow(0, 0, Co * cols).view({Co, cols});
        auto X = Xbuf.narrow(0, 0, Ci * k * cols).view({Ci * k, cols});
        to_columns<scalar_t>(gs + b0 * Co * To, nb, Co, To, G.data_ptr<scalar_t>());
        im2col<scalar_t>(xs + b0 * Ci * L, nb, Ci, L, k, s, To, X.data_ptr<scalar_t>());
        if (c == c0) {
          at::mm_out(P, G, X.t());
        } else {
          at::addmm_out(P, P, G, X.t());
        }
      }
      slots[c0] = P;  // the ranges are disjoint: one slot per call
    });
  });
  return sum_slots(slots).view({Co, Ci, k});
}

struct GemmConv1dFn : public torch::autograd::Function<GemmConv1dFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               const torch::Tensor& bias, int64_t stride) {
    ctx->save_for_backward({x, w});
    const bool has_bias = bias.numel() > 0;
    ctx->saved_data["has_bias"] = has_bias;
    ctx->saved_data["stride"] = stride;
    ++im2col_calls;
    return gemm_impl::forward(x, w, has_bias ? bias : torch::Tensor(), stride);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    const int64_t stride = ctx->saved_data["stride"].toInt();
    auto g = grads[0].contiguous();
    torch::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) gx = gemm_impl::input_grad(g, w, stride, x.size(2));
    if (ctx->needs_input_grad(1)) gw = gemm_impl::weight_grad(x, g, w.size(2), stride);
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) gb = g.sum(std::vector<int64_t>{0, 2});
    return {gx, gw, gb, torch::Tensor()};
  }
};

}  // namespace gemm_impl

namespace gemm_detail {
torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& w, int64_t stride) {
  return gemm_impl::forward(x, w, torch::Tensor(), stride);
}
torch::Tensor input_grad(const torch::Tensor& g, const torch::Tensor& w, int64_t stride, int64_t length) {
  gemm_impl::check(torch::empty({g.size(0), w.size(1), length}, g.options()), w, stride, "input gradient");
  if (g.dim() != 3 || g.size(1) != w.size(0) || g.size(2) != gemm_impl::out_length(length, w.size(2), stride)) {
    throw std::invalid_argument("gemm_conv1d (input gradient): output gradient does not fit the kernel and length");
  }
  return gemm_impl::input_grad(g, w, stride, length);
}
torch::Tensor weight_grad(const torch::Tensor& x, const torch::Tensor& g, int64_t kernel, int64_t stride) {
  gemm_impl::check(x, torch::empty({g.size(1), x.size(1), kernel}, x.options()), stride, "weight gradient");
  if (g.dim() != 3 || g.size(0) != x.size(0) || g.size(2) != gemm_impl::out_length(x.size(2), kernel, stride)) {
    throw std::invalid_argument("gemm_conv1d (weight gradient): output gradient does not fit the input");
  }
  return gemm_impl::weight_grad(x, g, kernel, stride);
}
}  // namespace gemm_detail

torch::Tensor gemm_conv1d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                          int64_t stride) {
  gemm_impl::check(x, weight, stride, "forward");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0))) {
    std::ostringstream s;
    s << "gemm_conv1d: bias must be [" << weight.size(0) << "], got " << bias.sizes();
    throw std::invalid_argument(s.str());
  }
  return gemm_impl::GemmConv1dFn::apply(x, weight, bias.defined() ? bias : torch::empty({0}, x.options()), stride);
}

}  // namespace leaves::engine
