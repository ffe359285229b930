// The encoder's convolutions on the CPU as matrix products on the BLAS:
// Winograd F(4, 3) for the 3-tap stride-1 ones (14 of the 20), im2col for the
// strided and 1 x 1 ones (the other 6), each with forward, input gradient and
// weight gradient.
//
// Why: on a CPU without wide matrix units the encoder's convolutions are ~85 %
// of a LEAVES step, and LibTorch's oneDNN kernels for them run at 60-75 % of
// the machine's peak forward and about half of it for the weight gradient.
// Winograd's minimal filtering algorithm F(4, 3) computes four outputs of a
// 3-tap filter from six inputs with six multiplications instead of twelve, so
// each convolution becomes six independent matrix products of half the
// arithmetic of the direct form, done by the BLAS that LibTorch links
// (OpenBLAS, MKL), plus cheap linear transforms of the tiles. The strided
// convolutions gain only the BLAS's better efficiency (same arithmetic).
//
// The mathematics is the convolution's: exact in exact arithmetic; in fp32 the
// result differs from the direct sum by rounding only (relative 1e-6 on the
// tested shapes, checked against double precision in the tests). The same
// algorithm is what cuDNN picks for such layers on GPUs.
//
// Winograd's three passes use one set of matrices (points 0, +-1, +-2, inf):
//   forward        y = A^T [ (G w) . (B^T d) ]     per tile of 6 inputs / 4 outputs
//   input gradient the forward with the kernel flipped and transposed
//   weight grad.   dw = G^T [ (A dy) . (B^T d) ]   summed over tiles, a matrix
//                                                   product over batch x tiles
// (the weight gradient is the transposed bilinear form of the forward one).
//
// Threads: the batch is cut into groups of whole samples; each thread runs the
// whole pipeline on its groups with a single-threaded BLAS (OpenBLAS and MKL
// are single-threaded inside an OpenMP region), no barrier in between. This
// needs the library compiled with OpenMP (CMake option LEAVES_OPENMP): the
// `#pragma omp parallel` of at::parallel_for is compiled into this file, and
// without -fopenmp it runs every group on the calling thread.
//
// Used by ResNet1d on the CPU (`CpuConv`): `auto` takes it when the BLAS is a
// fast one (by the library's name, else a one-off probe of its matrix
// product: the reference BLAS runs at a few GFLOP/s, where these would be far
// slower than oneDNN).
#pragma once
#include <torch/torch.h>

#include <string>

namespace leaves::engine {

/// How the encoder's convolutions run on the CPU.
enum class CpuConv {
  /// When the BLAS is fast (see `blas_is_fast`): every convolution on it,
  /// Winograd for the 3-tap stride-1 ones with at least
  /// `kWinogradMinChannels` input channels, im2col for the others (the stem
  /// included); else LibTorch's.
  Auto,
  /// Always these: Winograd for every 3-tap stride-1 convolution, im2col for
  /// the others (fp32 and fp64 tensors on the CPU).
  Blas,
  Torch,  ///< Always LibTorch's own convolution (oneDNN on x86).
};

/// Below this many input channels `Auto` computes a 3-tap stride-1
/// convolution by im2col rather than Winograd: with a handful of input
/// channels (the stem's 1 to 12) the tile transforms cost more than the
/// halved products save. Measured with bench/bench_conv.cpp (interleaved,
/// medians of 3) on a 2-core AMD EPYC (Zen 3) with OpenBLAS at B = 64,
/// forward + input gradient + weight gradient, ms, oneDNN / Winograd /
/// im2col: the stem 1 -> 64: 7.0 / 11.4 / 5.0; 64 -> 64: 21.4 / 16.1 / 25.9;
/// 128 -> 128: 36.2 / 23.8 / 36.5; 512 -> 512: 159.0 / 93.4 / 127.2
/// (bench/cpu-notes.md).
constexpr int64_t kWinogradMinChannels = 16;

/// "auto", "blas" or "torch"; throws std::invalid_argument naming `option`.
CpuConv parse_cpu_conv(const std::string& name, const std::string& option = "--cpu-conv");
const char* cpu_conv_name(CpuConv c);

/// GFLOP/s of LibTorch's fp32 matrix product here (256 x 256 x 1024, best of
/// a few), measured once per process and cached.
double blas_gflops();
/// The file of the library that provides the BLAS's sgemm in this process
/// (symbolic links resolved), or "" when it cannot be told (e.g. a BLAS
/// linked statically into LibTorch).
std::string blas_library();
/// Whether the BLAS is fast enough for these to pay, decided once: by the
/// library's name (OpenBLAS, MKL, BLIS, Arm PL, Accelerate: yes; Debian's
/// reference `blas/libblas`: no), else by `blas_gflops()` >= 20 (the reference
/// BLAS gives ~3 GFLOP/s, OpenBLAS on two cores here ~140).
bool blas_is_fast();
/// Resolves `Auto` on this machine.
bool use_blas_conv(CpuConv c);

/// How many threads an at::parallel_for of this library's own code really
/// runs on (distinct thread numbers over a 64-chunk loop): 1 when it was
/// compiled without OpenMP, where the loop runs on the calling thread
/// whatever at::get_num_threads() says. `leaves bench` prints it.
int64_t library_parallel_threads();

/// How many forward passes each path has run in this process (for tests and
/// for `leaves bench` to say what ran).
struct CpuConvCalls {
  int64_t winograd = 0, im2col = 0;
};
CpuConvCalls cpu_conv_calls();

/// Whether `gemm_conv1d` handles these operands: CPU fp32 / fp64 `[B, Ci, L]`
/// and `[Co, Ci, k]` with k = 1 or 3 (odd k: padding (k - 1) / 2).
bool gemm_applicable(const torch::Tensor& x, const torch::Tensor& weight);

/// conv1d(x, weight, bias, stride, padding (k - 1) / 2) as im2col matrix
/// products, with autograd (not twice differentiable). `bias` may be undefined.
torch::Tensor gemm_conv1d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                          int64_t stride);

/// Whether `winograd_conv1d` handles these operands: a CPU fp32 / fp64
/// `[B, Ci, L]` input with L >= 1 and a `[Co, Ci, 3]` kernel (stride 1,
/// padding 1, no dilation, no groups are the caller's to guarantee).
bool winograd_applicable(const torch::Tensor& x, const torch::Tensor& weight);

/// conv1d(x, weight, bias, stride 1, padding 1) by Winograd F(4, 3), with
/// autograd (input, weight and bias gradients; not twice differentiable).
/// `bias` may be undefined.
torch::Tensor winograd_conv1d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

namespace winograd_detail {
/// The three passes without autograd, exposed for tests and benchmarks.
torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& weight);
torch::Tensor input_grad(const torch::Tensor& grad_out, const torch::Tensor& weight);
torch::Tensor weight_grad(const torch::Tensor& x, const torch::Tensor& grad_out);
}  // namespace winograd_detail

namespace gemm_detail {
/// The im2col passes without autograd, for tests and benchmarks.
torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride);
torch::Tensor input_grad(const torch::Tensor& grad_out, const torch::Tensor& weight, int64_t stride, int64_t length);
torch::Tensor weight_grad(const torch::Tensor& x, const torch::Tensor& grad_out, int64_t kernel, int64_t stride);
}  // namespace gemm_detail

}  // namespace leaves::engine
