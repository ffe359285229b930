// Winograd F(4, 3) convolution for the encoder's 3-tap, stride-1 convolutions
// on the CPU: forward, input gradient and weight gradient.
//
// Why: on a CPU without wide matrix units the encoder's convolutions are ~85 %
// of a LEAVES step, and LibTorch's oneDNN kernels for them run at 60-75 % of
// the machine's peak forward and about half of it for the weight gradient.
// Winograd's minimal filtering algorithm F(4, 3) computes four outputs of a
// 3-tap filter from six inputs with six multiplications instead of twelve, so
// each convolution becomes six independent matrix products of half the
// arithmetic of the direct form, done by the BLAS that LibTorch links
// (OpenBLAS, MKL), plus cheap linear transforms of the tiles.
//
// The mathematics is the convolution's: exact in exact arithmetic; in fp32 the
// result differs from the direct sum by rounding only (relative 1e-6 on the
// tested shapes, checked against double precision in the tests). The same
// algorithm is what cuDNN picks for such layers on GPUs.
//
// The three passes use one set of matrices (points 0, +-1, +-2, infinity):
//   forward        y = A^T [ (G w) . (B^T d) ]     per tile of 6 inputs / 4 outputs
//   input gradient the forward with the kernel flipped and transposed
//   weight grad.   dw = G^T [ (A dy) . (B^T d) ]   summed over tiles, a matrix
//                                                   product over batch x tiles
// (the weight gradient is the transposed bilinear form of the forward one).
//
// Used by ResNet1d on the CPU (`CpuConv`): `auto` takes it when the BLAS is a
// fast one (a one-off probe of its matrix product: the reference BLAS runs at a
// few GFLOP/s, where Winograd would be far slower than oneDNN).
#pragma once
#include <torch/torch.h>

#include <string>

namespace leaves::nn {

/// How the encoder's 3-tap stride-1 convolutions run on the CPU.
enum class CpuConv {
  Auto,      ///< Winograd when the BLAS is fast (see `blas_is_fast`), else LibTorch's.
  Winograd,  ///< Always Winograd F(4, 3) (fp32 and fp64 tensors on the CPU).
  Torch,     ///< Always LibTorch's own convolution (oneDNN on x86).
};

/// "auto", "winograd" or "torch"; throws std::invalid_argument naming `option`.
CpuConv parse_cpu_conv(const std::string& name, const std::string& option = "--cpu-conv");
const char* cpu_conv_name(CpuConv c);

/// GFLOP/s of LibTorch's fp32 matrix product here (256 x 256 x 1024, best of
/// a few), measured once per process and cached.
double blas_gflops();
/// Whether `blas_gflops()` is high enough for Winograd to pay (>= 20 GFLOP/s;
/// the reference BLAS gives ~3, OpenBLAS on two cores ~140).
bool blas_is_fast();
/// Resolves `Auto` on this machine.
bool use_winograd(CpuConv c);

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

}  // namespace leaves::nn
