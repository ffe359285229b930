// `leaves bench pretrain`: times the adversarial pre-training step on random
// data of a given shape (warm-up steps first, then the median of several timed
// rounds), optionally a full epoch over a resident data set of a given size,
// and optionally checks the bf16 loss against fp32 on the same batch.
#include <torch/torch.h>
#if __has_include(<torch/csrc/autograd/profiler_legacy.h>)
#include <torch/csrc/autograd/profiler_legacy.h>
#define LEAVES_HAS_RECORD_PROFILE 1
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "leaves/compat.h"
#include "leaves/loss/nt_xent.h"
#include "leaves/train/pretrain.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

namespace {

// How the encoder's convolutions ran on the CPU: the mode, how many of them
// took each BLAS path per step (of the 20), and the BLAS's measured speed;
// "n/a" on CUDA.
std::string cpu_conv_label(const torch::Device& device, const train::Pretrainer& trainer,
                           const nn::CpuConvCalls& before, int64_t norm_before, int64_t steps) {
  if (!device.is_cpu()) return "n/a";
  const auto after = nn::cpu_conv_calls();
  const int64_t norm = (nn::batch_norm_act_calls() - norm_before) / std::max<int64_t>(steps, 1);
  std::string lib = nn::blas_library();
  if (lib.empty()) {
    lib = "unknown";
  } else {  // the last two path components, e.g. openblas-openmp/libblas.so.3
    const auto last = lib.find_last_of('/');
    const auto before = last == std::string::npos || last == 0 ? std::string::npos : lib.find_last_of('/', last - 1);
    if (before != std::string::npos) lib = lib.substr(before + 1);
  }
  char buf[400];
  std::snprintf(buf, sizeof buf,
                "%s winograd_per_step=%lld im2col_per_step=%lld blas=%s blas_gflops=%.0f cpu_norm=%s "
                "fused_norm_per_step=%lld kernel_threads=%lld",
                nn::cpu_conv_name(trainer.encoder->cpu_conv()),
                static_cast<long long>((after.winograd - before.winograd) / std::max<int64_t>(steps, 1)),
                static_cast<long long>((after.im2col - before.im2col) / std::max<int64_t>(steps, 1)),
                lib.c_str(), nn::blas_gflops(), trainer.encoder->fused_norm() ? "fused" : "torch",
                static_cast<long long>(norm), static_cast<long long>(nn::library_parallel_threads()));
  return buf;
}

struct BenchArgs {
  train::PretrainConfig config;
  int64_t channels = 1, length = 3000, steps = 10, warmup = 3, rounds = 3, epoch_size = 0;
  bool check_precision = false, breakdown = false;
  std::string trace;  ///< non-empty: profile `steps` more steps into this chrome-trace file
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The loss of one batch, with the same views (same seed), in fp32 and in bf16,
// from identically initialised models: what mixed precision changes.
void check_precision(const BenchArgs& a, const torch::Tensor& x) {
  double loss[2];
  const char* names[2] = {"fp32", "bf16"};
  for (int i = 0; i < 2; ++i) {
    auto c = a.config;
    c.precision = names[i];
    torch::manual_seed(c.seed);
    train::Pretrainer t(c, a.channels);
    torch::manual_seed(c.seed + 1);
    loss[i] = t.loss(x).item<double>();
  }
  const double rel = std::abs(loss[1] - loss[0]) / std::max(std::abs(loss[0]), 1e-12);
  std::printf("precision check (same batch, same views, same weights): loss fp32=%.5f bf16=%.5f relative_difference=%.2e\n",
              loss[0], loss[1], rel);
}

// Seconds per call of `fn`: `warmup` untimed calls, then `rounds` rounds of
// `steps` calls, the device synchronised around each round (its work is
// asynchronous); the median round, and the fastest and slowest.
struct Timing {
  double median = 0, fastest = 0, slowest = 0;
};
template <typename Fn>
Timing time_rounds(const BenchArgs& a, const torch::Device& device, Fn fn) {
  for (int64_t i = 0; i < a.warmup; ++i) fn();
  compat::synchronize(device);
  std::vector<double> t;
  for (int64_t r = 0; r < a.rounds; ++r) {
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < a.steps; ++i) fn();
    compat::synchronize(device);
    t.push_back(seconds_since(t0) / a.steps);
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front(), t.back()};
}

// Where an eager step's time goes: the augmentations (views and the backward
// pass into the generator's parameters) against the encoder and head (forward,
// NT-Xent, backward) on fixed views. Eager, so launch gaps are included.
void breakdown(const BenchArgs& a, train::Pretrainer& t, const torch::Tensor& x) {
  const auto device = t.device();
  auto both = torch::cat({x, x});
  const double views_s = time_rounds(a, device, [&] {
    auto v = t.generator->forward(both);
    if (v.requires_grad()) v.sum().backward();
  }).median;
  torch::Tensor fixed;
  {
    torch::NoGradGuard g;
    fixed = t.generator->forward(both);
  }
  const int64_t B = x.size(0);
  const double encoder_s = time_rounds(a, device, [&] {
    torch::Tensor z;
    {
      compat::AutocastGuard amp(device, t.mixed_precision());
      z = t.head(t.encoder(fixed));
    }
    z = z.to(torch::kFloat);
    loss::nt_xent(z.narrow(0, 0, B), z.narrow(0, B, B), a.config.tau).backward();
  }).median;
  const double step_s = time_rounds(a, device, [&] {
    t.compute_gradients(x);
    t.apply_gradients();
  }).median;
  std::printf("breakdown (eager, per step): views fwd+bwd %.5f s, encoder+head+NT-Xent fwd+bwd %.5f s, "
              "whole eager step %.5f s\n",
              views_s, encoder_s, step_s);
}

int run_bench(const BenchArgs& a) {
  if (a.steps < 1 || a.warmup < 0 || a.rounds < 1) {
    throw std::invalid_argument("--steps and --rounds must be >= 1 and --warmup >= 0");
  }
  if (a.epoch_size != 0 && a.epoch_size < a.config.batch_size) {
    throw std::invalid_argument("--epoch-size must be 0 (no epoch) or at least --batch-size");
  }
  std::ofstream out;  // opened first: a bad --trace path fails before any work
  if (!a.trace.empty()) {
#ifndef LEAVES_HAS_RECORD_PROFILE
    throw std::invalid_argument("--trace: this LibTorch has no legacy profiler (RecordProfile)");
#endif
    out.open(a.trace);
    if (!out) throw std::invalid_argument("--trace: cannot write " + a.trace);
  }
  torch::manual_seed(a.config.seed);
  train::Pretrainer trainer(a.config, a.channels);
  const auto device = trainer.device();
  const int64_t B = a.config.batch_size;
  auto x = torch::rand({B, a.channels, a.length}, torch::TensorOptions().device(device));
  if (a.check_precision) check_precision(a, x);
  if (a.breakdown) breakdown(a, trainer, x);

  compat::reset_peak_memory(device);
  torch::Tensor loss;
  const auto conv_calls = nn::cpu_conv_calls();
  const int64_t norm_calls = nn::batch_norm_act_calls();
  const auto timing = time_rounds(a, device, [&] { loss = trainer.step(x); });
  const std::string cpu_label = cpu_conv_label(device, trainer, conv_calls, norm_calls, a.warmup + a.rounds * a.steps);
  const double dt = timing.median;
  const float final_loss = loss.item<float>();
  const int64_t peak = compat::peak_memory_bytes(device);

  if (!a.trace.empty()) {
    // LibTorch's profiler over `steps` more steps, written as a chrome trace
    // (chrome://tracing, or scripts/trace-summary.py for self time per op).
    compat::synchronize(device);
#ifdef LEAVES_HAS_RECORD_PROFILE
    {
      torch::autograd::profiler::RecordProfile guard(out);
      for (int64_t i = 0; i < a.steps; ++i) loss = trainer.step(x);
      compat::synchronize(device);
    }
#endif
    std::printf("leaves bench trace: %lld steps profiled into %s\n", static_cast<long long>(a.steps), a.trace.c_str());
  }
  if (a.epoch_size > 0) {
    // A full epoch over a resident random set, as `leaves pretrain` runs it.
    auto data = torch::rand({a.epoch_size, a.channels, a.length}, torch::TensorOptions().device(device));
    compat::synchronize(device);
    const auto t0 = Clock::now();
    int64_t steps = 0;
    auto total = train::train_epoch(trainer, data, a.config.seed, 1, &steps);
    const double mean = total.item<double>() / std::max<int64_t>(steps, 1);  // waits for the device
    const double s = seconds_since(t0);
    std::printf("leaves bench epoch N=%lld steps=%lld epoch_s=%.3f samples_per_s=%.1f mean_loss=%.3f\n",
                static_cast<long long>(a.epoch_size), static_cast<long long>(steps), s, steps * B / s, mean);
  }
  std::printf("leaves bench pretrain method=%s B=%lld C=%lld L=%lld width=%lld device=%s name=\"%s\" precision=%s "
              "layout=%s cuda_graph=%s cpu_conv=%s threads=%d step_s=%.5f (median of %lld rounds, fastest %.5f, slowest %.5f) "
              "peak_mem_mib=%s samples_per_s=%.1f loss=%.3f\n",
              a.config.method.c_str(), static_cast<long long>(B), static_cast<long long>(a.channels),
              static_cast<long long>(a.length), static_cast<long long>(a.config.width), device.str().c_str(),
              compat::device_name(device).c_str(), trainer.mixed_precision() ? "bf16" : "fp32",
              trainer.encoder->channels_last() ? "channels-last" : "channels-first",
              trainer.graph_captured() ? "yes" : "no", cpu_label.c_str(),
              torch::get_num_threads(), dt,
              static_cast<long long>(a.rounds), timing.fastest, timing.slowest,
              peak < 0 ? "n/a" : std::to_string(peak >> 20).c_str(), B / dt, final_loss);
  return 0;
}

}  // namespace

Action add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  auto* cmd = bench->add_subcommand("pretrain", "Samples per second of one adversarial pre-training step");
  auto& c = a->config;
  cmd->add_option("--method", c.method, "leaves | simclr | viewmaker")
      ->check(CLI::IsMember({"leaves", "simclr", "viewmaker"}))
      ->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size, "pairs per step")->check(CLI::Range(2, 1 << 20))->capture_default_str();
  cmd->add_option("--channels", a->channels, "channels C")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--length", a->length, "length L")->check(CLI::Range(2, 1 << 24))->capture_default_str();
  cmd->add_option("--width", c.width, "encoder first-stage width")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--projection-hidden", c.projection_hidden, "projection-head hidden width (0: linear head)")
      ->check(CLI::Range(0, 1 << 16))
      ->capture_default_str();
  cmd->add_option("--device", c.device, "cpu | cuda | cuda:N")->capture_default_str();
  add_accelerator_options(cmd, c);
  cmd->add_option("--steps", a->steps, "timed steps per round")->capture_default_str();
  cmd->add_option("--rounds", a->rounds, "timed rounds (the median is reported)")->capture_default_str();
  cmd->add_option("--warmup", a->warmup, "untimed warm-up steps")->capture_default_str();
  cmd->add_option("--epoch-size", a->epoch_size, "also time one full epoch over N resident random samples (0: no)")
      ->capture_default_str();
  cmd->add_flag("--breakdown", a->breakdown, "also time the augmentations and the encoder apart (eager)");
  cmd->add_option("--trace", a->trace, "also profile --steps more steps into this chrome-trace file");
  cmd->add_flag("--check-precision", a->check_precision, "compare the bf16 loss with fp32 on the same batch and views");
  cmd->add_option("--seed", c.seed, "random seed")->capture_default_str();
  add_generator_options(cmd, c.views);
  return [a] { return run_bench(*a); };
}

}  // namespace leaves::cli
