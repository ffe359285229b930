// `leaves bench norm`: leaves' own kernels (the fused BatchNorm + residual +
// LeakyReLU at every BatchNorm shape of the encoder, on CUDA the fused stem;
// the permutation's index and relaxed products) against LibTorch's ops, time
// and float64 error. `leaves bench conv`: each convolution of the encoder
// against a matrix product of the same arithmetic and leaves' im2col path.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace leaves::bench {

/// The encoder's shapes at B rows of length L, and the timing.
struct KernelBenchArgs {
  std::string device = "cpu", precision = "auto";
  int64_t batch = 256, length = 3000, width = 64, in_channels = 1, iters = 20, warmup = 3;
  uint64_t seed = 1;
};

struct NormArgs : KernelBenchArgs {
  double slope = 0.01;
};

using ConvArgs = KernelBenchArgs;

/// Exit status 1 when a fused kernel's error exceeds twice LibTorch's own
/// (plus 1e-5 in fp32, 1e-2 in bf16/fp16) or the permutation differs.
int bench_norm(const NormArgs& args, std::FILE* out);
int bench_conv(const ConvArgs& args, std::FILE* out);

}  // namespace leaves::bench
