// CPU benchmarks of the encoder's 3-tap stride-1 convolutions at the shapes of
// one LEAVES step at B = 32, C = 1, L = 1000 (two views: a batch of 64):
// LibTorch's convolution (oneDNN) against Winograd F(4, 3), each pass apart.
// Counters: GFLOP/s of the direct algorithm's arithmetic (2 Ci Co 3 B L), so
// the two are comparable. Run: OMP_NUM_THREADS=2 build/leaves_bench_conv
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "leaves/compat.h"
#include "leaves/nn/cpu_conv.h"

namespace {

namespace wd = leaves::nn::winograd_detail;

enum Pass { kForward, kInputGrad, kWeightGrad };

void run(benchmark::State& state, bool winograd, Pass pass) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const int64_t B = 64, Ci = state.range(0), Co = state.range(1), L = state.range(2);
  auto x = torch::randn({B, Ci, L}), w = torch::randn({Co, Ci, 3}), g = torch::randn({B, Co, L});
  for (auto _ : state) {
    torch::Tensor r;
    if (winograd) {
      r = pass == kForward ? wd::forward(x, w) : pass == kInputGrad ? wd::input_grad(g, w) : wd::weight_grad(x, g);
    } else if (pass == kForward) {
      r = torch::conv1d(x, w, {}, 1, 1);
    } else {
      auto out = at::convolution_backward(g, x, w, c10::nullopt, {1}, {1}, {1}, false, {0}, 1,
                                          {pass == kInputGrad, pass == kWeightGrad, false});
      r = pass == kInputGrad ? std::get<0>(out) : std::get<1>(out);
    }
    benchmark::DoNotOptimize(r.data_ptr());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * B * Ci * Co * 3 * L * 1e-9 * state.iterations(),
                                                 benchmark::Counter::kIsRate);
}

void BM_TorchForward(benchmark::State& s) { run(s, false, kForward); }
void BM_WinogradForward(benchmark::State& s) { run(s, true, kForward); }
void BM_TorchInputGrad(benchmark::State& s) { run(s, false, kInputGrad); }
void BM_WinogradInputGrad(benchmark::State& s) { run(s, true, kInputGrad); }
void BM_TorchWeightGrad(benchmark::State& s) { run(s, false, kWeightGrad); }
void BM_WinogradWeightGrad(benchmark::State& s) { run(s, true, kWeightGrad); }

// (in channels, out channels, length): the stem, then the four stages after the max-pool.
#define SHAPES                                                                                          \
  ->Args({1, 64, 1000})->Args({64, 64, 500})->Args({128, 128, 250})->Args({256, 256, 125})->Args({512, 512, 63}) \
      ->Unit(benchmark::kMillisecond)
BENCHMARK(BM_TorchForward) SHAPES;
BENCHMARK(BM_WinogradForward) SHAPES;
BENCHMARK(BM_TorchInputGrad) SHAPES;
BENCHMARK(BM_WinogradInputGrad) SHAPES;
BENCHMARK(BM_TorchWeightGrad) SHAPES;
BENCHMARK(BM_WinogradWeightGrad) SHAPES;

}  // namespace

int main(int argc, char** argv) {
  leaves::compat::keep_freed_memory();  // as the leaves tool does, for both sides
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
