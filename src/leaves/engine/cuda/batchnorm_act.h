// CUDA kernels of the fused BatchNorm (training statistics) + residual add +
// LeakyReLU of a ResNet block's tail, for activations stored channels-last:
// M = B L rows of C channels each, channels innermost (a `[B, C, 1, L]`
// tensor in ChannelsLast format, as the encoder runs on CUDA).
//
// Plain CUDA behind a C++ interface of raw pointers and a stream, so that nvcc
// never compiles LibTorch's headers; the autograd function that calls these is
// in nn/batchnorm.cpp. Statistics are kept in fp32 (the activations may be
// bf16, fp16 or fp32; parameters, running statistics and the saved mean and
// inverse standard deviation are fp32), combined across blocks in double in a
// fixed order: the result does not depend on scheduling, and two runs agree
// bit for bit.
//
// Forward (3 passes over memory): per-thread Welford statistics, combined with
// Chan's formula per block and then per channel (no E[x^2] - E[x]^2
// cancellation); then y = act(x * scale + shift + residual) with
// scale = gamma invstd, shift = beta - mean scale.
// Backward (two kernels over memory): the activation's gradient
// gz = dy * (z > 0 ? 1 : slope), rounded to the activations' type as
// LeakyReLU's backward would store it, with the sign of z read from the output
// y, or, without a residual, recomputed from x (then y is not read, nor kept);
// the channel sums of gz and gz (x - mean), gz written out as the residual's
// gradient when there is one; then
//   dx = gamma invstd (gz - sum(gz) / M - xhat sum(gz xhat) / M).
#pragma once
#include <cstdint>

typedef struct CUstream_st* cudaStream_t;

namespace leaves::engine::cuda {

enum class Dtype : int { Float = 0, BFloat16 = 1, Half = 2 };

/// fp32 values of workspace that `bn_act_forward` and `bn_act_backward` need
/// for `channels` channels on the current device (any number of rows: the
/// reductions' row-blocks are bounded by the device's multiprocessors).
int64_t bn_act_workspace_floats(int64_t channels);

struct BnActForward {
  Dtype dtype = Dtype::Float;
  const void* x = nullptr;         ///< [M, C]
  const void* residual = nullptr;  ///< [M, C] or null
  void* y = nullptr;               ///< [M, C]
  int64_t rows = 0, channels = 0;
  const float* weight = nullptr;  ///< [C]
  const float* bias = nullptr;    ///< [C]
  float* running_mean = nullptr;  ///< [C] or null: updated with `momentum`
  float* running_var = nullptr;   ///< [C] or null: unbiased variance, as torch::batch_norm keeps it
  double momentum = 0.1, eps = 1e-5;
  float* save_mean = nullptr;    ///< [C] out
  float* save_invstd = nullptr;  ///< [C] out
  float* save_affine = nullptr;  ///< [2 C] out, or null: scale then shift, for a backward without y
  float* workspace = nullptr;    ///< bn_act_workspace_floats(...)
  bool activate = true;
  float slope = 0.01f;
};

struct BnActBackward {
  Dtype dtype = Dtype::Float;
  const void* x = nullptr;   ///< the forward input [M, C]
  const void* y = nullptr;   ///< the forward output [M, C]: with `activate`, this or `affine`
  const void* dy = nullptr;  ///< [M, C]
  void* dx = nullptr;        ///< [M, C] out
  void* dresidual = nullptr; ///< [M, C] out, or null (with `activate` only)
  int64_t rows = 0, channels = 0;
  const float* weight = nullptr;
  const float* save_mean = nullptr;
  const float* save_invstd = nullptr;
  /// The forward's save_affine: with `activate`, no residual and no `y`, the
  /// activation's mask is recomputed from x (one pass over memory less each
  /// way, and the output need not be kept).
  const float* affine = nullptr;
  float* dweight = nullptr;  ///< [C] out
  float* dbias = nullptr;    ///< [C] out
  float* workspace = nullptr;
  bool activate = true;
  float slope = 0.01f;
};

/// Enqueue on `stream`; nullptr on success, else the CUDA error's text.
const char* bn_act_forward(const BnActForward& a, cudaStream_t stream);
const char* bn_act_backward(const BnActBackward& a, cudaStream_t stream);

// ---------------------------------------------------------------------------
// The encoder's stem as one forward and one backward: convolution (Ci -> C
// channels, 3 taps, padding 1, stride 1, with bias) + BatchNorm (training
// statistics) + LeakyReLU + max-pool (kernel 2, stride 2), without
// materialising the convolution's or the activation's full-length output
// (the largest tensors of the encoder) nor the pool's indices: each pass
// recomputes the convolution from the fp32 input (Ci x 3 products a value),
// always in the same order, so every pass sees the same values.
// x: fp32 [B, L, Ci] (rows of channels); out, dout: [B, L / 2, C] of `dtype`.
// Forward: statistics pass, then normalise + activate + pool. Backward: the
// sums of gz and gz (z - mean) (gz nonzero only where the pool took its
// maximum, LibTorch's tie rule: the first, unless the second is NaN), then
// per tile of positions the convolution's output gradient, the input
// gradient and per-block partials of the weights' gradients, combined in
// double in a fixed order.
struct StemArgs {
  Dtype dtype = Dtype::BFloat16;  ///< of `out` and `dout`
  const float* x = nullptr;       ///< [B, L, Ci]
  int64_t batch = 0, length = 0;
  int in_channels = 0, channels = 0;
  const float* conv_weight = nullptr;  ///< [C, Ci, 3]
  const float* conv_bias = nullptr;    ///< [C]
  const float* weight = nullptr;       ///< BatchNorm gamma [C]
  const float* bias = nullptr;         ///< BatchNorm beta [C]
  float* running_mean = nullptr;       ///< [C] or null
  float* running_var = nullptr;        ///< [C] or null
  double momentum = 0.1, eps = 1e-5;
  float slope = 0.01f;
  float* save_mean = nullptr;    ///< [C]: forward out, backward in
  float* save_invstd = nullptr;  ///< [C]: forward out, backward in
  float* save_affine = nullptr;  ///< [2 C]: forward out, backward in
  void* out = nullptr;           ///< forward: [B, L / 2, C]
  const void* dout = nullptr;    ///< backward: [B, L / 2, C]
  float* dx = nullptr;           ///< backward out: [B, L, Ci]
  float* dconv_weight = nullptr; ///< backward out: [C, Ci, 3]
  float* dconv_bias = nullptr;   ///< backward out: [C]
  float* dweight = nullptr;      ///< backward out: [C]
  float* dbias = nullptr;        ///< backward out: [C]
  float* workspace = nullptr;    ///< stem_workspace_floats(...)
};

/// Whether the kernels take this stem (their shared memory holds the weights
/// and a tile of positions).
bool stem_supported(int in_channels, int channels);
/// Workspace of stem_forward and stem_backward, on the current device (any batch and length).
int64_t stem_workspace_floats(int in_channels, int channels);
const char* stem_forward(const StemArgs& a, cudaStream_t stream);
const char* stem_backward(const StemArgs& a, cudaStream_t stream);

}  // namespace leaves::engine::cuda
