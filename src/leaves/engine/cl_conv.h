// The encoder's convolutions on channels-last activations as matrix products
// (the layout the encoder runs in on CUDA): an alternative to cuDNN, to be
// measured against it shape by shape (`leaves bench conv`), selected by
// `--cl-conv gemm`.
//
// A 1 x k convolution (k = 1 or 3, padding (k - 1) / 2, stride s) of
// `[B, Ci, 1, L]` channels-last, whose memory is the matrix `[B L, Ci]`:
//   forward          cols = im2col(x) `[B Lout, k Ci]` (k strided copies, the
//                    padding rows zeroed), y = cols W `[B Lout, Co]`, which is
//                    already `[B, Co, 1, Lout]` channels-last; W `[k Ci, Co]`;
//   input gradient   stride 1: the same with the kernel flipped and transposed,
//                    dx = im2col(dy) W' (one product, accumulated in the
//                    product's own precision); stride 2: dcols = dy W^T, then
//                    col2im (even positions take one tap, odd positions the sum
//                    of two: one rounding more in bf16 than cuDNN's);
//   weight gradient  dW = cols^T dy (cols recomputed, not stored).
// Every product is LibTorch's matrix product (cuBLAS on CUDA, the BLAS on the
// CPU), so the code is the same on every device and the CPU tests check it
// against LibTorch's convolution in double precision. The arithmetic is the
// convolution's; only the summation order differs (rounding).
//
// Why it might pay: the products are the GEMMs an implicit-GEMM convolution
// computes, at the throughput of the vendor's best matrix kernels, for the
// price of writing and reading the k shifted copies (memory traffic). Where
// cuDNN's kernels for these 1 x k shapes run far below its matrix products
// (`bench conv` prints both) that can be the faster way; where they do not, it
// is slower. Hence an option, not a default.
#pragma once
#include <torch/torch.h>

namespace leaves::engine {

/// Whether `cl_gemm_conv` takes these operands: a 4-D `[B, Ci, 1, L]` input
/// (L >= 1) and a `[Co, Ci, k]` kernel with k = 1 or 3 of the same device and
/// floating type, stride >= 1.
bool cl_gemm_conv_applicable(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride);

/// conv2d(x, weight.unsqueeze(2), bias, {1, stride}, {0, (k - 1) / 2}) as
/// matrix products, with autograd (input, weight and bias gradients; not twice
/// differentiable). Returns `[B, Co, 1, Lout]` in channels-last order. Under
/// autocast on x's device, runs in autocast's type (the gradients flow back to
/// fp32 weights through the cast, as LibTorch's own convolution does). `bias`
/// may be undefined. Throws std::invalid_argument unless applicable.
torch::Tensor cl_gemm_conv(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                           int64_t stride);

namespace cl_gemm_detail {
/// The three passes without autograd (x, weight and dy of one type), for
/// tests and `leaves bench conv`. `length` is the input length L.
torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride);
torch::Tensor input_grad(const torch::Tensor& dy, const torch::Tensor& weight, int64_t stride, int64_t length);
torch::Tensor weight_grad(const torch::Tensor& x, const torch::Tensor& dy, int64_t k, int64_t stride);
}  // namespace cl_gemm_detail

}  // namespace leaves::engine
