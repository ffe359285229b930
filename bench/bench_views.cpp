// CPU benchmarks of the view generators: forward + backward of one view batch
// (the generator's share of an adversarial step), at the shapes of the paper's
// studies: B = 32, C = 1, L = 3000 (Sleep-EDF / Apnea-ECG) and B = 32, C = 12,
// L = 1000 (PTB-XL). Run: build/leaves_bench_views
// The counter `ops` is how many operators that do work one forward + backward
// runs (engine::OpCounter): on a GPU about the kernels it launches.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>

#include "leaves/compat.h"
#include "leaves/views/leaves.h"
#include "leaves/views/random_views.h"
#include "leaves/views/viewmaker.h"
#include "leaves/engine/op_counter.h"

namespace {

template <class Make>
void run(benchmark::State& state, Make make) {
  torch::manual_seed(0);
  const int64_t B = state.range(0), C = state.range(1), L = state.range(2);
  auto g = make(C);
  auto x = torch::randn({B, C, L}, torch::requires_grad());
  auto pass = [&] {
    auto v = g->forward(x);
    auto loss = v.pow(2).mean();
    if (v.requires_grad()) loss.backward();
    return loss;
  };
  {
    leaves::engine::OpCounter counter;
    pass();
    state.counters["ops"] = static_cast<double>(counter.count());
    if (std::getenv("LEAVES_OP_NAMES") != nullptr) {  // which operators, for whoever reduces them
      for (const auto& kv : counter.by_name()) {
        std::fprintf(stderr, "%6lld %s\n", static_cast<long long>(kv.second), kv.first.c_str());
      }
    }
  }
  for (auto _ : state) benchmark::DoNotOptimize(pass().template item<float>());
  state.SetItemsProcessed(state.iterations() * B);
}

void BM_LeavesForwardBackward(benchmark::State& state) {
  run(state, [](int64_t) { return leaves::views::Leaves(); });
}
void BM_RandomViewsForwardBackward(benchmark::State& state) {
  run(state, [](int64_t) { return leaves::views::RandomViews(); });
}
void BM_ViewMakerForwardBackward(benchmark::State& state) {
  run(state, [](int64_t C) { return leaves::views::ViewMaker(leaves::views::ViewMakerOptions(C)); });
}

}  // namespace

BENCHMARK(BM_LeavesForwardBackward)->Args({32, 1, 3000})->Args({32, 12, 1000})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RandomViewsForwardBackward)->Args({32, 1, 3000})->Args({32, 12, 1000})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ViewMakerForwardBackward)->Args({32, 1, 3000})->Args({32, 12, 1000})->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
