// The fused kernels behind nn::batch_norm_act, nn::max_pool2 and
// nn::fused_stem (see engine/batchnorm_act.h): the CPU loops and the autograd
// functions over them, and the autograd functions over leaves' own CUDA
// kernels (engine/cuda/batchnorm_act.h).
#include "leaves/engine/batchnorm_act.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "leaves/compat.h"

#ifdef LEAVES_WITH_CUDA_KERNELS
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "leaves/engine/cuda/batchnorm_act.h"
#endif

namespace leaves::engine {

// ---------------------------------------------------------------------------
// The fused CPU kernel: BatchNorm (training statistics) + residual + LeakyReLU.
//
// Every pass walks the [B, C, L] tensors in memory order, row (b, c) then
// row (b, c + 1), the rows split among the threads: the hardware prefetchers
// follow that stream. (Walking one channel's B rows instead, C L values
// apart, they do not, and the short rows of the deep stages (L = 63) and the
// fresh output pages then stall on every cache line: measured slower than
// LibTorch's backward.) The per-row partial sums go to [B C] arrays that are
// reduced per channel in a fixed order, so that the result does not depend on
// the number of threads.

namespace {

std::atomic<int64_t> fused_calls{0};

// The kernels below select with `?:` on a comparison; GCC turns that into a
// vector blend only when it may assume floating-point operations do not trap
// (otherwise: one unpredictable branch per value, five times slower than
// LibTorch). No value changes: no reordering, no other rounding.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

// Sums with eight independent partial sums: vectorisable without reordering
// any one sum (no -ffast-math); each row is short (L values), and the rows'
// sums are added in double.
template <typename T>
inline __attribute__((always_inline)) double lane_sum(const T* p, int64_t n) {
  T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += p[i + j];
  }
  double s = 0;
  for (; i < n; ++i) s += p[i];
  for (int j = 0; j < 8; ++j) s += acc[j];
  return s;
}

// sum (p - m)^2
template <typename T>
inline __attribute__((always_inline)) double lane_squared_deviation(const T* p, int64_t n, T m) {
  T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) {
      const T d = p[i + j] - m;
      acc[j] += d * d;
    }
  }
  double s = 0;
  for (; i < n; ++i) s += static_cast<double>(p[i] - m) * (p[i] - m);
  for (int j = 0; j < 8; ++j) s += acc[j];
  return s;
}

// sum g (p - m)
template <typename T>
inline __attribute__((always_inline)) double lane_dot_deviation(const T* g, const T* p, int64_t n, T m) {
  T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += g[i + j] * (p[i + j] - m);
  }
  double s = 0;
  for (; i < n; ++i) s += static_cast<double>(g[i]) * (p[i] - m);
  for (int j = 0; j < 8; ++j) s += acc[j];
  return s;
}

// The centre about which a row's squared deviations are summed: its mean,
// rounded to T (the same value wherever it is recomputed).
template <typename T>
inline T row_center(double sum, int64_t L) {
  return static_cast<T>(sum / static_cast<double>(L));
}

enum class Pass {
  Stats,             // s1[r] = sum x, s2[r] = sum (x - m_r)^2 about the row's rounded mean m_r
  Apply,             // out = act(x scale + shift + res)
  Grad,              // g = act'(y) dy (with the activation); s1[r] = sum g, s2[r] = sum g (x - mean)
  InputGrad,         // dx = k1 g - k2 - k3 (x - mean)
  MaxPool,           // out[i] = max(x[2 i], x[2 i + 1]), rows of L / 2 outputs
  MaxPoolGrad,       // dx[2 i + j] = dy[i] where j was the max, else 0
};

// The operands of the passes; per-channel arrays have C values, per-row ones B C.
template <typename T>
struct Rows {
  int64_t C = 0, L = 0;
  const T *x = nullptr, *res = nullptr, *y = nullptr, *dy = nullptr, *gin = nullptr;
  T *out = nullptr, *g = nullptr, *dx = nullptr;
  const T *mean = nullptr, *k1 = nullptr, *k2 = nullptr, *k3 = nullptr;  // Apply: k1 scale, k2 shift
  bool act = false;
  T slope = 0;
  double *s1 = nullptr, *s2 = nullptr;
};

template <typename T>
inline __attribute__((always_inline)) void run_rows(Pass pass, const Rows<T>& p, int64_t r0, int64_t r1) {
  const int64_t L = p.L;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t c = r % p.C, o = r * L;
    const T* __restrict x = p.x + o;
    const T m = p.mean != nullptr ? p.mean[c] : T(0);
    switch (pass) {
      case Pass::Stats: {
        // Two passes over the row, the second from L1: no E[x^2] - E[x]^2 cancellation.
        const double sum = lane_sum(x, L);
        p.s1[r] = sum;
        p.s2[r] = lane_squared_deviation(x, L, row_center<T>(sum, L));
        break;
      }
      case Pass::Apply: {
        const T scale = p.k1[c], shift = p.k2[c], slope = p.slope;
        T* __restrict y = p.out + o;
        if (p.res != nullptr) {
          const T* __restrict res = p.res + o;
          if (p.act) {
            for (int64_t i = 0; i < L; ++i) {
              const T z = x[i] * scale + shift + res[i], zs = z * slope;
              y[i] = z > 0 ? z : zs;
            }
          } else {
            for (int64_t i = 0; i < L; ++i) y[i] = x[i] * scale + shift + res[i];
          }
        } else if (p.act) {
          for (int64_t i = 0; i < L; ++i) {
            const T z = x[i] * scale + shift, zs = z * slope;
            y[i] = z > 0 ? z : zs;
          }
        } else {
          for (int64_t i = 0; i < L; ++i) y[i] = x[i] * scale + shift;
        }
        break;
      }
      case Pass::Grad: {
        // With the activation, g = dy where y > 0 and slope dy elsewhere (y
        // has the sign of the pre-activation: slope > 0); without, g = dy.
        const T* __restrict dy = p.dy + o;
        const T* g = dy;
        if (p.act) {
          const T* __restrict y = p.y + o;
          T* __restrict gw = p.g + o;
          const T slope = p.slope;
          for (int64_t i = 0; i < L; ++i) {
            const T d = dy[i], ds = d * slope;
            gw[i] = y[i] > 0 ? d : ds;
          }
          g = gw;
        }
        p.s1[r] = lane_sum(g, L);  // the row is still in L1
        p.s2[r] = lane_dot_deviation(g, x, L, m);
        break;
      }
      case Pass::InputGrad: {
        const T* g = p.gin + o;  // may be dx itself: same index read, then written
        T* dx = p.dx + o;
        const T k1 = p.k1[c], k2 = p.k2[c], k3 = p.k3[c];
        for (int64_t i = 0; i < L; ++i) dx[i] = k1 * g[i] - k2 - k3 * (x[i] - m);
        break;
      }
      // The second of a pair wins when it is larger or NaN, as in LibTorch's
      // max_pool (ties: the first); an odd last value is dropped.
      case Pass::MaxPool: {
        const int64_t n = L / 2;
        T* __restrict y = p.out + r * n;
        for (int64_t i = 0; i < n; ++i) {
          const T a = x[2 * i], b = x[2 * i + 1];
          y[i] = (b > a || b != b) ? b : a;
        }
        break;
      }
      case Pass::MaxPoolGrad: {
        const int64_t n = L / 2;
        const T* __restrict dy = p.dy + r * n;
        T* __restrict dx = p.dx + o;
        for (int64_t i = 0; i < n; ++i) {
          const T a = x[2 * i], b = x[2 * i + 1], g = dy[i];
          const bool second = b > a || b != b;
          dx[2 * i] = second ? T(0) : g;
          dx[2 * i + 1] = second ? g : T(0);
        }
        if (L % 2 != 0) dx[L - 1] = 0;
        break;
      }
    }
  }
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define LEAVES_BN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LEAVES_BN_CLONES
#endif

// float: a non-template entry point, so that GCC builds an AVX2 clone of the
// loops and picks it at load time; double: the plain template.
LEAVES_BN_CLONES void rows_any(Pass pass, const Rows<float>& p, int64_t r0, int64_t r1) {
  run_rows<float>(pass, p, r0, r1);
}
void rows_any(Pass pass, const Rows<double>& p, int64_t r0, int64_t r1) { run_rows<double>(pass, p, r0, r1); }

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

template <typename T>
void parallel_rows(Pass pass, const Rows<T>& p, int64_t rows) {
  at::parallel_for(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, p.L)),
                   [&](int64_t r0, int64_t r1) { rows_any(pass, p, r0, r1); });
}

// sum over b of s[b C + c], in order of b.
double channel_sum(const std::vector<double>& s, int64_t B, int64_t C, int64_t c) {
  double t = 0;
  for (int64_t b = 0; b < B; ++b) t += s[b * C + c];
  return t;
}

// The non-tensor arguments the fused functions' backward passes need.
struct ActOptions {
  bool activate;
  double slope;
  bool res_grad;  ///< a residual was given and wants its gradient
};
void save_options(torch::autograd::AutogradContext* ctx, bool activate, double slope, bool has_res) {
  ctx->saved_data["activate"] = activate;
  ctx->saved_data["slope"] = slope;
  ctx->saved_data["has_res"] = has_res;
}
ActOptions saved_options(torch::autograd::AutogradContext* ctx) {
  return {ctx->saved_data["activate"].toBool(), ctx->saved_data["slope"].toDouble(),
          ctx->saved_data["has_res"].toBool() && ctx->needs_input_grad(3)};
}

struct BatchNormActFn : public torch::autograd::Function<BatchNormActFn> {
  // An empty `residual` stands for none (autograd functions take defined tensors).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, const torch::Tensor& residual,
                               torch::Tensor running_mean, torch::Tensor running_var, double momentum, double eps,
                               bool activate, double slope) {
    const int64_t B = x.size(0), C = x.size(1), L = x.size(2);
    const double n = static_cast<double>(B) * L;
    const bool has_res = residual.numel() > 0;
    auto xc = x.contiguous();
    auto rc = has_res ? residual.contiguous() : residual;
    auto wc = weight.contiguous(), bc = bias.contiguous();
    auto y = torch::empty_like(xc);
    auto mean = torch::empty({C}, x.options()), invstd = torch::empty({C}, x.options());
    auto var = torch::empty({C}, x.options().dtype(torch::kDouble));
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "batch_norm_act", [&] {
      using T = scalar_t;
      std::vector<double> s1(B * C), s2(B * C);
      std::vector<T> scale(C), shift(C);
      Rows<T> p;
      p.C = C, p.L = L, p.x = xc.data_ptr<T>(), p.s1 = s1.data(), p.s2 = s2.data();
      T* ms = mean.data_ptr<T>();
      T* is = invstd.data_ptr<T>();
      double* vs = var.data_ptr<double>();
      const T* gamma = wc.data_ptr<T>();
      const T* beta = bc.data_ptr<T>();
      parallel_rows(Pass::Stats, p, B * C);
      for (int64_t c = 0; c < C; ++c) {
        const double mu = channel_sum(s1, B, C, c) / n;
        // The rows' sums of squares about their centres m_r, moved to mu:
        // sum (x - mu)^2 = Q_r + d (L d - 2 S_r), d = mu - m_r, S_r = sum (x - m_r).
        double q = 0;
        for (int64_t b = 0; b < B; ++b) {
          const int64_t r = b * C + c;
          const double m = row_center<T>(s1[r], L), d = mu - m, S = s1[r] - L * m;
          q += s2[r] + d * (L * d - 2 * S);
        }
        ms[c] = static_cast<T>(mu);
        vs[c] = std::max(q, 0.0) / n;  // biased: the normalisation's
        is[c] = static_cast<T>(1.0 / std::sqrt(vs[c] + eps));
        scale[c] = gamma[c] * is[c];
        shift[c] = beta[c] - ms[c] * scale[c];
      }
      p.k1 = scale.data(), p.k2 = shift.data(), p.out = y.data_ptr<T>();
      p.res = has_res ? rc.data_ptr<T>() : nullptr;
      p.act = activate, p.slope = static_cast<T>(slope);
      parallel_rows(Pass::Apply, p, B * C);
    });
    // Running statistics as torch::batch_norm keeps them: the unbiased variance.
    running_mean.mul_(1 - momentum).add_(mean.to(running_mean.scalar_type()), momentum);
    running_var.mul_(1 - momentum).add_(var.to(running_var.scalar_type()), momentum * n / (n - 1));
    ctx->save_for_backward({xc, activate ? y : torch::Tensor(), weight, mean, invstd});
    save_options(ctx, activate, slope, has_res);
    ++fused_calls;
    return y;
  }

  // With xhat = (x - mean) invstd, N = B L and g the activation's gradient:
  //   dx = gamma invstd (g - sum(g) / N - xhat sum(g xhat) / N),
  //   dgamma = sum(g xhat), dbeta = sum(g), dresidual = g.
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &y = saved[1], &weight = saved[2], &mean = saved[3], &invstd = saved[4];
    const ActOptions options = saved_options(ctx);  // plain names: lambdas below capture them
    const bool activate = options.activate, res_grad = options.res_grad;
    const double slope = options.slope;
    const int64_t B = x.size(0), C = x.size(1), L = x.size(2);
    const double n = static_cast<double>(B) * L;
    auto dy = grads[0].contiguous();
    auto dx = torch::empty_like(x);
    // The activation's gradient goes to the residual's gradient when there is
    // one, else to dx as a temporary; without the activation it is dy itself.
    auto dres = res_grad ? (activate ? torch::empty_like(x) : dy.clone()) : torch::Tensor();
    auto dgamma = torch::empty({C}, x.options()), dbeta = torch::empty({C}, x.options());
    auto wc = weight.contiguous();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "batch_norm_act_backward", [&] {
      using T = scalar_t;
      std::vector<double> s1(B * C), s2(B * C);
      std::vector<T> k1(C), k2(C), k3(C);
      Rows<T> p;
      p.C = C, p.L = L, p.x = x.data_ptr<T>(), p.dy = dy.data_ptr<T>(), p.mean = mean.data_ptr<T>();
      p.act = activate, p.slope = static_cast<T>(slope), p.s1 = s1.data(), p.s2 = s2.data();
      p.dx = dx.data_ptr<T>();
      if (activate) {
        p.y = y.data_ptr<T>();
        p.g = res_grad ? dres.data_ptr<T>() : p.dx;
      }
      parallel_rows(Pass::Grad, p, B * C);
      const T* gamma = wc.data_ptr<T>();
      const T* is = invstd.data_ptr<T>();
      T* dg = dgamma.data_ptr<T>();
      T* db = dbeta.data_ptr<T>();
      for (int64_t c = 0; c < C; ++c) {
        const double sg = channel_sum(s1, B, C, c), sgx = channel_sum(s2, B, C, c);
        db[c] = static_cast<T>(sg);
        dg[c] = static_cast<T>(sgx * is[c]);
        const double a = static_cast<double>(gamma[c]) * is[c];
        k1[c] = static_cast<T>(a);
        k2[c] = static_cast<T>(a * sg / n);
        k3[c] = static_cast<T>(a * is[c] * is[c] * sgx / n);
      }
      p.gin = activate ? p.g : p.dy;
      p.k1 = k1.data(), p.k2 = k2.data(), p.k3 = k3.data();
      parallel_rows(Pass::InputGrad, p, B * C);
    });
    return {dx, dgamma, dbeta, dres, torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// Max-pool over time, kernel 2, stride 2 (the stem's): [B, C, L] -> [B, C, L / 2].
struct MaxPool2Fn : public torch::autograd::Function<MaxPool2Fn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    const int64_t B = x.size(0), C = x.size(1), L = x.size(2);
    auto xc = x.contiguous();
    auto y = torch::empty({B, C, L / 2}, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "max_pool2", [&] {
      Rows<scalar_t> p;
      p.C = C, p.L = L, p.x = xc.data_ptr<scalar_t>(), p.out = y.data_ptr<scalar_t>();
      parallel_rows(Pass::MaxPool, p, B * C);
    });
    ctx->save_for_backward({xc});
    return y;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto x = ctx->get_saved_variables()[0];
    const int64_t B = x.size(0), C = x.size(1), L = x.size(2);
    auto dy = grads[0].contiguous();
    auto dx = torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "max_pool2_backward", [&] {
      Rows<scalar_t> p;
      p.C = C, p.L = L, p.x = x.data_ptr<scalar_t>(), p.dy = dy.data_ptr<scalar_t>(), p.dx = dx.data_ptr<scalar_t>();
      parallel_rows(Pass::MaxPoolGrad, p, B * C);
    });
    return {dx};
  }
};


// [B, C, 1, L] in channels-last order: B L rows of C adjacent channels (the
// layout of engine/cuda/batchnorm_act.h). Strides of size-1 dimensions do not matter.
[[maybe_unused]] bool rows_of_channels(const torch::Tensor& t) {
  if (t.dim() != 4 || t.size(2) != 1) return false;
  const int64_t B = t.size(0), C = t.size(1), L = t.size(3);
  return (C == 1 || t.stride(1) == 1) && (L == 1 || t.stride(3) == C) && (B == 1 || t.stride(0) == C * L);
}

#ifdef LEAVES_WITH_CUDA_KERNELS
cuda::Dtype cuda_dtype(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kBFloat16: return cuda::Dtype::BFloat16;
    case torch::kHalf: return cuda::Dtype::Half;
    default: return cuda::Dtype::Float;
  }
}

void check_cuda(const char* error, const char* what) {
  if (error) throw std::runtime_error(std::string("batch_norm_act (CUDA ") + what + "): " + error);
}

// The CUDA twin of BatchNormActFn on channels-last activations; parameters,
// running and saved statistics in fp32.
struct BatchNormActCudaFn : public torch::autograd::Function<BatchNormActCudaFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, const torch::Tensor& residual,
                               torch::Tensor running_mean, torch::Tensor running_var, double momentum, double eps,
                               bool activate, double slope) {
    const c10::cuda::CUDAGuard guard(x.device());
    const int64_t C = x.size(1), M = x.numel() / C;
    const bool has_res = residual.numel() > 0;
    auto res = has_res && !rows_of_channels(residual) ? residual.contiguous(at::MemoryFormat::ChannelsLast) : residual;
    auto y = torch::empty_like(x);  // keeps x's (channels-last) strides
    const auto f32 = x.options().dtype(torch::kFloat);
    auto mean = torch::empty({C}, f32), invstd = torch::empty({C}, f32);
    // Without a residual the backward recomputes the activation's sign from x
    // and this affine map: y is neither kept nor read again.
    const bool mask_from_x = activate && !has_res;
    auto affine = mask_from_x ? torch::empty({2 * C}, f32) : torch::Tensor();
    auto ws = torch::empty({cuda::bn_act_workspace_floats(C)}, f32);
    cuda::BnActForward a;
    a.dtype = cuda_dtype(x);
    a.x = x.data_ptr();
    a.residual = has_res ? res.data_ptr() : nullptr;
    a.y = y.data_ptr();
    a.rows = M, a.channels = C;
    a.weight = weight.data_ptr<float>(), a.bias = bias.data_ptr<float>();
    a.running_mean = running_mean.data_ptr<float>(), a.running_var = running_var.data_ptr<float>();
    a.momentum = momentum, a.eps = eps;
    a.save_mean = mean.data_ptr<float>(), a.save_invstd = invstd.data_ptr<float>();
    a.save_affine = mask_from_x ? affine.data_ptr<float>() : nullptr;
    a.workspace = ws.data_ptr<float>();
    a.activate = activate, a.slope = static_cast<float>(slope);
    check_cuda(cuda::bn_act_forward(a, c10::cuda::getCurrentCUDAStream(x.device().index()).stream()), "forward");
    ctx->save_for_backward({x, activate && !mask_from_x ? y : torch::Tensor(), weight, mean, invstd, affine});
    save_options(ctx, activate, slope, has_res);
    ++fused_calls;
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &y = saved[1], &weight = saved[2], &mean = saved[3], &invstd = saved[4];
    const auto& affine = saved[5];
    const c10::cuda::CUDAGuard guard(x.device());
    const ActOptions options = saved_options(ctx);  // plain names: lambdas below capture them
    const bool activate = options.activate, res_grad = options.res_grad;
    const double slope = options.slope;
    const int64_t C = x.size(1), M = x.numel() / C;
    auto dy = grads[0].scalar_type() == x.scalar_type() ? grads[0] : grads[0].to(x.scalar_type());
    if (!rows_of_channels(dy)) dy = dy.contiguous(at::MemoryFormat::ChannelsLast);
    auto dx = torch::empty_like(x);
    // With the activation the kernel writes the residual's gradient (its
    // gradient gz); without it, that gradient is dy itself.
    auto dres = res_grad ? (activate ? torch::empty_like(x) : dy.clone()) : torch::Tensor();
    const auto f32 = x.options().dtype(torch::kFloat);
    auto dweight = torch::empty({C}, f32), dbias = torch::empty({C}, f32);
    auto ws = torch::empty({cuda::bn_act_workspace_floats(C)}, f32);
    cuda::BnActBackward b;
    b.dtype = cuda_dtype(x);
    b.x = x.data_ptr(), b.y = y.defined() ? y.data_ptr() : nullptr, b.dy = dy.data_ptr(), b.dx = dx.data_ptr();
    b.affine = affine.defined() ? affine.data_ptr<float>() : nullptr;
    b.dresidual = res_grad && activate ? dres.data_ptr() : nullptr;
    b.rows = M, b.channels = C;
    b.weight = weight.data_ptr<float>();
    b.save_mean = mean.data_ptr<float>(), b.save_invstd = invstd.data_ptr<float>();
    b.dweight = dweight.data_ptr<float>(), b.dbias = dbias.data_ptr<float>();
    b.workspace = ws.data_ptr<float>();
    b.activate = activate, b.slope = static_cast<float>(slope);
    check_cuda(cuda::bn_act_backward(b, c10::cuda::getCurrentCUDAStream(x.device().index()).stream()), "backward");
    return {dx, dweight, dbias, dres, torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// The stem (convolution + BatchNorm + LeakyReLU + max-pool) on channels-last
// [B, Ci, 1, L] fp32 input: [B, C, 1, L / 2] out, bf16 under autocast.
struct StemCudaFn : public torch::autograd::Function<StemCudaFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& conv_weight, const torch::Tensor& conv_bias,
                               const torch::Tensor& weight, const torch::Tensor& bias, torch::Tensor running_mean,
                               torch::Tensor running_var, double momentum, double eps, double slope, bool bf16) {
    const c10::cuda::CUDAGuard guard(x.device());
    const int64_t B = x.size(0), Ci = x.size(1), L = x.size(3), C = conv_weight.size(0);
    const auto f32 = x.options().dtype(torch::kFloat);
    auto out = torch::empty({B, C, 1, L / 2}, x.options()
                                                  .dtype(bf16 ? torch::kBFloat16 : torch::kFloat)
                                                  .memory_format(at::MemoryFormat::ChannelsLast));
    auto mean = torch::empty({C}, f32), invstd = torch::empty({C}, f32), affine = torch::empty({2 * C}, f32);
    auto ws = torch::empty({cuda::stem_workspace_floats(static_cast<int>(Ci), static_cast<int>(C))}, f32);
    auto w = conv_weight.contiguous();
    cuda::StemArgs a;
    a.dtype = bf16 ? cuda::Dtype::BFloat16 : cuda::Dtype::Float;
    a.x = x.data_ptr<float>(), a.batch = B, a.length = L;
    a.in_channels = static_cast<int>(Ci), a.channels = static_cast<int>(C);
    a.conv_weight = w.data_ptr<float>(), a.conv_bias = conv_bias.data_ptr<float>();
    a.weight = weight.data_ptr<float>(), a.bias = bias.data_ptr<float>();
    a.running_mean = running_mean.data_ptr<float>(), a.running_var = running_var.data_ptr<float>();
    a.momentum = momentum, a.eps = eps, a.slope = static_cast<float>(slope);
    a.save_mean = mean.data_ptr<float>(), a.save_invstd = invstd.data_ptr<float>();
    a.save_affine = affine.data_ptr<float>();
    a.out = out.data_ptr();
    a.workspace = ws.data_ptr<float>();
    check_cuda(cuda::stem_forward(a, c10::cuda::getCurrentCUDAStream(x.device().index()).stream()), "stem forward");
    ctx->save_for_backward({x, w, conv_bias, weight, mean, invstd, affine});
    ctx->saved_data["slope"] = slope;
    ctx->saved_data["bf16"] = bf16;
    ++fused_calls;
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto v = ctx->get_saved_variables();
    const auto &x = v[0], &w = v[1], &conv_bias = v[2], &weight = v[3], &mean = v[4], &invstd = v[5],
               &affine = v[6];
    const c10::cuda::CUDAGuard guard(x.device());
    const bool bf16 = ctx->saved_data["bf16"].toBool();
    const int64_t B = x.size(0), Ci = x.size(1), L = x.size(3), C = w.size(0);
    auto dout = grads[0].to(bf16 ? torch::kBFloat16 : torch::kFloat);
    if (!rows_of_channels(dout)) dout = dout.contiguous(at::MemoryFormat::ChannelsLast);
    // The kernels read dout in 16-byte vectors: a view at an odd offset is copied.
    if (reinterpret_cast<uintptr_t>(dout.data_ptr()) % 16 != 0) dout = dout.clone(at::MemoryFormat::ChannelsLast);
    const auto f32 = x.options().dtype(torch::kFloat);
    auto dx = torch::empty_like(x);  // channels-last, as x
    auto dw = torch::empty_like(w), dcb = torch::empty({C}, f32);
    auto dweight = torch::empty({C}, f32), dbias = torch::empty({C}, f32);
    auto ws = torch::empty({cuda::stem_workspace_floats(static_cast<int>(Ci), static_cast<int>(C))}, f32);
    cuda::StemArgs a;
    a.dtype = bf16 ? cuda::Dtype::BFloat16 : cuda::Dtype::Float;
    a.x = x.data_ptr<float>(), a.batch = B, a.length = L;
    a.in_channels = static_cast<int>(Ci), a.channels = static_cast<int>(C);
    a.conv_weight = w.data_ptr<float>(), a.conv_bias = conv_bias.data_ptr<float>();
    a.weight = weight.data_ptr<float>();
    a.slope = static_cast<float>(ctx->saved_data["slope"].toDouble());
    a.save_mean = mean.data_ptr<float>(), a.save_invstd = invstd.data_ptr<float>();
    a.save_affine = affine.data_ptr<float>();
    a.dout = dout.data_ptr();
    a.dx = dx.data_ptr<float>(), a.dconv_weight = dw.data_ptr<float>(), a.dconv_bias = dcb.data_ptr<float>();
    a.dweight = dweight.data_ptr<float>(), a.dbias = dbias.data_ptr<float>();
    a.workspace = ws.data_ptr<float>();
    check_cuda(cuda::stem_backward(a, c10::cuda::getCurrentCUDAStream(x.device().index()).stream()), "stem backward");
    return {dx, dw, dcb, dweight, dbias, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor()};
  }
};
#endif  // LEAVES_WITH_CUDA_KERNELS

}  // namespace

bool channels_last_rows(const torch::Tensor& t) { return rows_of_channels(t); }

torch::Tensor batch_norm_act_fused(const torch::Tensor& x, const BatchNormTensors& bn, const torch::Tensor& residual,
                                   bool activate, double negative_slope) {
  const auto res = residual.defined() ? residual : torch::empty({0}, x.options());
#ifdef LEAVES_WITH_CUDA_KERNELS
  if (x.is_cuda()) {
    return BatchNormActCudaFn::apply(x, bn.weight, bn.bias, res, bn.running_mean, bn.running_var, bn.momentum, bn.eps,
                                     activate, negative_slope);
  }
#endif
  return BatchNormActFn::apply(x, bn.weight, bn.bias, res, bn.running_mean, bn.running_var, bn.momentum, bn.eps,
                               activate, negative_slope);
}

torch::Tensor max_pool2_fused(const torch::Tensor& x) { return MaxPool2Fn::apply(x); }

bool stem_kernels_support(int64_t in_channels, int64_t channels) {
#ifdef LEAVES_WITH_CUDA_KERNELS
  return cuda::stem_supported(static_cast<int>(in_channels), static_cast<int>(channels));
#else
  (void)in_channels, (void)channels;
  return false;
#endif
}

torch::Tensor stem_fused(const torch::Tensor& x, const torch::Tensor& conv_weight, const torch::Tensor& conv_bias,
                         const BatchNormTensors& bn, double negative_slope) {
#ifdef LEAVES_WITH_CUDA_KERNELS
  return StemCudaFn::apply(x, conv_weight, conv_bias, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.momentum,
                           bn.eps, negative_slope, compat::autocast_on(torch::kCUDA));
#else
  (void)x, (void)conv_weight, (void)conv_bias, (void)bn, (void)negative_slope;
  throw std::logic_error("stem_fused: this build has no CUDA kernels of its own");
#endif
}

int64_t fused_batch_norm_calls() { return fused_calls.load(); }

bool cuda_kernels_built() {
#ifdef LEAVES_WITH_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

}  // namespace leaves::engine
