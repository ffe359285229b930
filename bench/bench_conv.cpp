// CPU benchmarks of the encoder's 3-tap stride-1 convolutions at the shapes of
// one LEAVES step at B = 32, C = 1, L = 1000 (two views: a batch of 64):
// LibTorch's convolution (oneDNN) against Winograd F(4, 3) and im2col matrix
// products, each pass apart.
// Counters: GFLOP/s of the direct algorithm's arithmetic (2 Ci Co 3 B L), so
// the two are comparable. Run: OMP_NUM_THREADS=2 build/leaves_bench_conv
// --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true (on
// a shared machine, interleaving keeps the comparison fair)
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "leaves/compat.h"
#include "leaves/nn/batchnorm.h"
#include "leaves/engine/cpu_conv.h"
#include "leaves/engine/process.h"

namespace {

namespace wd = leaves::engine::winograd_detail;
namespace gd = leaves::engine::gemm_detail;

enum Pass { kForward, kInputGrad, kWeightGrad };

enum Algo { kTorch, kWinograd, kIm2col };

void run(benchmark::State& state, Algo algo, Pass pass) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const int64_t B = 64, Ci = state.range(0), Co = state.range(1), L = state.range(2);
  const int64_t k = state.range(3), stride = state.range(4), pad = (k - 1) / 2;
  if (algo == kWinograd && (k != 3 || stride != 1)) {
    state.SkipWithError("Winograd F(4, 3) is for 3-tap stride-1 convolutions");
    return;
  }
  auto x = torch::randn({B, Ci, L}), w = torch::randn({Co, Ci, k});
  const int64_t To = (L + 2 * pad - k) / stride + 1;
  auto g = torch::randn({B, Co, To});
  for (auto _ : state) {
    torch::Tensor r;
    if (algo == kWinograd) {
      r = pass == kForward ? wd::forward(x, w) : pass == kInputGrad ? wd::input_grad(g, w) : wd::weight_grad(x, g);
    } else if (algo == kIm2col) {
      r = pass == kForward     ? gd::forward(x, w, stride)
          : pass == kInputGrad ? gd::input_grad(g, w, stride, L)
                               : gd::weight_grad(x, g, k, stride);
    } else if (pass == kForward) {
      r = torch::conv1d(x, w, {}, stride, pad);
    } else {
      auto out = at::convolution_backward(g, x, w, c10::nullopt, {stride}, {pad}, {1}, false, {0}, 1,
                                          {pass == kInputGrad, pass == kWeightGrad, false});
      r = pass == kInputGrad ? std::get<0>(out) : std::get<1>(out);
    }
    benchmark::DoNotOptimize(r.data_ptr());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * B * Ci * Co * k * To * 1e-9 * state.iterations(),
                                                 benchmark::Counter::kIsRate);
}

void BM_TorchForward(benchmark::State& s) { run(s, kTorch, kForward); }
void BM_WinogradForward(benchmark::State& s) { run(s, kWinograd, kForward); }
void BM_Im2colForward(benchmark::State& s) { run(s, kIm2col, kForward); }
void BM_TorchInputGrad(benchmark::State& s) { run(s, kTorch, kInputGrad); }
void BM_WinogradInputGrad(benchmark::State& s) { run(s, kWinograd, kInputGrad); }
void BM_Im2colInputGrad(benchmark::State& s) { run(s, kIm2col, kInputGrad); }
void BM_TorchWeightGrad(benchmark::State& s) { run(s, kTorch, kWeightGrad); }
void BM_WinogradWeightGrad(benchmark::State& s) { run(s, kWinograd, kWeightGrad); }
void BM_Im2colWeightGrad(benchmark::State& s) { run(s, kIm2col, kWeightGrad); }

// (in channels, out channels, length, kernel, stride): the encoder's 20
// convolutions at L = 1000 come in these nine shapes: the stem, the 3-tap
// stride-1 ones of the four stages (after the max-pool), and the first block
// of stages 2-4 (3-tap stride 2 and the 1 x 1 stride-2 shortcut).
#define SHAPES                                                                                    \
  ->Args({1, 64, 1000, 3, 1})                                                                     \
      ->Args({64, 64, 500, 3, 1})                                                                 \
      ->Args({128, 128, 250, 3, 1})                                                               \
      ->Args({256, 256, 125, 3, 1})                                                               \
      ->Args({512, 512, 63, 3, 1})                                                                \
      ->Args({64, 128, 500, 3, 2})                                                                \
      ->Args({128, 256, 250, 3, 2})                                                               \
      ->Args({256, 512, 125, 3, 2})                                                               \
      ->Args({64, 128, 500, 1, 2})                                                                \
      ->Args({128, 256, 250, 1, 2})                                                               \
      ->Args({256, 512, 125, 1, 2})                                                               \
      ->Unit(benchmark::kMillisecond)
BENCHMARK(BM_TorchForward) SHAPES;
BENCHMARK(BM_WinogradForward) SHAPES;
BENCHMARK(BM_Im2colForward) SHAPES;
BENCHMARK(BM_TorchInputGrad) SHAPES;
BENCHMARK(BM_WinogradInputGrad) SHAPES;
BENCHMARK(BM_Im2colInputGrad) SHAPES;
BENCHMARK(BM_TorchWeightGrad) SHAPES;
BENCHMARK(BM_WinogradWeightGrad) SHAPES;
BENCHMARK(BM_Im2colWeightGrad) SHAPES;

// BatchNorm (training) + residual + LeakyReLU, the tail of a block: the fused
// kernel against LibTorch's three ops, forward alone and forward + backward.
// Args: channels, length (batch 64, as above).
void run_norm(benchmark::State& state, bool fused, bool backward) {
  torch::manual_seed(0);
  const int64_t B = 64, C = state.range(0), L = state.range(1);
  leaves::nn::BatchNorm1d bn(C);
  auto x = torch::randn({B, C, L}).requires_grad_(backward);
  auto r = torch::randn({B, C, L}).requires_grad_(backward);
  auto g = torch::randn({B, C, L});
  for (auto _ : state) {
    if (backward) {
      auto y = leaves::nn::batch_norm_act(bn, x, r, true, 0.01, fused);
      auto grads = torch::autograd::grad({y}, {x, r, bn->weight, bn->bias}, {g});
      benchmark::DoNotOptimize(grads[0].data_ptr());
    } else {
      torch::NoGradGuard no_grad;
      auto y = leaves::nn::batch_norm_act(bn, x, r, true, 0.01, fused);
      benchmark::DoNotOptimize(y.data_ptr());
    }
  }
  state.counters["Mvalues/s"] =
      benchmark::Counter(1e-6 * B * C * L * state.iterations(), benchmark::Counter::kIsRate);
}
void BM_NormTorchForward(benchmark::State& s) { run_norm(s, false, false); }
void BM_NormFusedForward(benchmark::State& s) { run_norm(s, true, false); }
void BM_NormTorchBoth(benchmark::State& s) { run_norm(s, false, true); }
void BM_NormFusedBoth(benchmark::State& s) { run_norm(s, true, true); }
#define NORM_SHAPES                                                                               \
  ->Args({64, 1000})->Args({64, 500})->Args({128, 250})->Args({256, 125})->Args({512, 63})       \
      ->Unit(benchmark::kMillisecond)
BENCHMARK(BM_NormTorchForward) NORM_SHAPES;
BENCHMARK(BM_NormFusedForward) NORM_SHAPES;
BENCHMARK(BM_NormTorchBoth) NORM_SHAPES;
BENCHMARK(BM_NormFusedBoth) NORM_SHAPES;

}  // namespace

int main(int argc, char** argv) {
  leaves::engine::keep_freed_memory();  // as the leaves tool does, for both sides
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
