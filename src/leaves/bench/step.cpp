#include "leaves/bench/step.h"

#include <torch/torch.h>
#if __has_include(<torch/csrc/autograd/profiler_legacy.h>)
#include <torch/csrc/autograd/profiler_legacy.h>
#define LEAVES_HAS_RECORD_PROFILE 1
#endif
#if __has_include(<torch/csrc/autograd/profiler_kineto.h>)
#include <torch/csrc/autograd/profiler_kineto.h>
#define LEAVES_HAS_KINETO 1
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "leaves/compat.h"
#include "leaves/option_error.h"
#include "leaves/engine/op_counter.h"
#include "leaves/loss/nt_xent.h"
#include "leaves/nn/batchnorm.h"
#include "leaves/train/pretrain.h"

namespace leaves::bench {

namespace {

// How the encoder's convolutions ran on the CPU: the mode, how many of them
// took each BLAS path per step (of the 20), and the BLAS's measured speed. On
// CUDA: the normalisation mode and how many calls took leaves' fused kernels
// (replays of a CUDA graph call no C++ code: eager steps and the capture only).
std::string cpu_conv_label(const torch::Device& device, const train::Pretrainer& trainer,
                           const engine::CpuConvCalls& before, int64_t norm_before, int64_t steps) {
  if (!device.is_cpu()) {
    return std::string("n/a gpu_norm=") + (engine::kernels_name(trainer.encoder->options.execution().gpu_norm)) +
           " fused_norm_calls=" + std::to_string(nn::batch_norm_act_calls() - norm_before);
  }
  const auto after = engine::cpu_conv_calls();
  const int64_t norm = (nn::batch_norm_act_calls() - norm_before) / std::max<int64_t>(steps, 1);
  std::string lib = engine::blas_library();
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
                engine::cpu_conv_name(trainer.encoder->options.execution().cpu_conv),
                static_cast<long long>((after.winograd - before.winograd) / std::max<int64_t>(steps, 1)),
                static_cast<long long>((after.im2col - before.im2col) / std::max<int64_t>(steps, 1)),
                lib.c_str(), engine::blas_gflops(), engine::kernels_name(trainer.encoder->options.execution().cpu_norm),
                static_cast<long long>(norm), static_cast<long long>(engine::library_parallel_threads()));
  return buf;
}


using Clock = std::chrono::steady_clock;

// Kineto, LibTorch's current profiler: the operators and, on CUDA, every GPU
// kernel with its device time (also inside CUDA graphs), as a chrome trace
// written to `path`. False when this LibTorch cannot run it.
bool kineto_trace(const std::string& path, bool cuda, const std::function<void()>& work) {
#ifdef LEAVES_HAS_KINETO
  namespace pi = torch::profiler::impl;
  std::set<pi::ActivityType> activities{pi::ActivityType::CPU};
  if (cuda) activities.insert(pi::ActivityType::CUDA);
  const pi::ProfilerConfig config(pi::ProfilerState::KINETO);
  try {
    torch::autograd::profiler::prepareProfiler(config, activities);
    torch::autograd::profiler::enableProfiler(config, activities);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "leaves bench: Kineto profiler unavailable (%s)\n", e.what());
    return false;
  }
  work();
  auto result = torch::autograd::profiler::disableProfiler();
  try {
    result->save(path);  // a LibTorch built without Kineto (Debian's) fails only here
  } catch (const std::exception& e) {
    std::fprintf(stderr, "leaves bench: Kineto cannot save a trace in this LibTorch (%s)\n",
                 std::string(e.what()).substr(0, std::string(e.what()).find('\n')).c_str());
    return false;
  }
  return true;
#else
  (void)path, (void)cuda, (void)work;
  return false;
#endif
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The loss of one batch, with the same views (same seed), in fp32 and in bf16,
// from identically initialised models: what mixed precision changes.
void check_precision(const BenchArgs& a, const torch::Tensor& x, std::FILE* out) {
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
  std::fprintf(out, "precision check (same batch, same views, same weights): loss fp32=%.5f bf16=%.5f relative_difference=%.2e\n",
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
void breakdown(const BenchArgs& a, train::Pretrainer& t, const torch::Tensor& x, std::FILE* out) {
  const auto device = t.device();
  auto both = torch::cat({x, x});
  torch::Tensor fixed;
  {
    torch::NoGradGuard g;
    fixed = t.generator->forward(both);
  }
  const int64_t B = x.size(0);
  const std::function<void()> passes[3] = {
      [&] {  // the views, forward and backward into the generator's parameters
        auto v = t.generator->forward(both);
        if (v.requires_grad()) v.sum().backward();
      },
      [&] {  // the encoder and head on fixed views, NT-Xent, backward
        torch::Tensor z;
        {
          compat::AutocastGuard amp(device, t.mixed_precision());
          z = t.head(t.encoder(fixed));
        }
        z = z.to(torch::kFloat);
        loss::nt_xent(z.narrow(0, 0, B), z.narrow(0, B, B), a.config.tau).backward();
      },
      [&] {  // the whole step
        t.compute_gradients(x);
        t.apply_gradients();
      }};
  double seconds[3];
  for (int i = 0; i < 3; ++i) seconds[i] = time_rounds(a, device, passes[i]).median;
  std::fprintf(out, "breakdown (eager, per step): views fwd+bwd %.5f s, encoder+head+NT-Xent fwd+bwd %.5f s, "
              "whole eager step %.5f s\n",
              seconds[0], seconds[1], seconds[2]);
  // Each pass once more, counting the operators that do work: on a GPU about
  // the kernels it launches (and that a CUDA graph of the step replays).
  long long ops[3], syncs = 0;
  {
    engine::OpCounter counter;
    for (int i = 0; i < 3; ++i) {
      counter.reset();
      passes[i]();
      compat::synchronize(device);
      ops[i] = static_cast<long long>(counter.count());
    }
    syncs = static_cast<long long>(counter.syncs());
  }
  std::fprintf(out, "breakdown (operators that do work, per pass): views fwd+bwd %lld, encoder+head+NT-Xent fwd+bwd "
              "%lld, whole step %lld (host syncs in it: %lld)\n",
              ops[0], ops[1], ops[2], syncs);
}

}  // namespace

int bench_step(const BenchArgs& a, std::FILE* out) {
  if (a.steps < 1 || a.warmup < 0 || a.rounds < 1) {
    throw OptionError("steps", " and rounds must be >= 1 and warmup >= 0");
  }
  if (a.epoch_size != 0 && a.epoch_size < a.config.batch_size) {
    throw OptionError("epoch_size", " must be 0 (no epoch) or at least the batch size");
  }
  std::ofstream trace_file;  // opened first: a bad --trace path fails before any work
  if (!a.trace.empty()) {
#ifndef LEAVES_HAS_RECORD_PROFILE
    throw OptionError("trace", ": this LibTorch has no legacy profiler (RecordProfile)");
#endif
    trace_file.open(a.trace);
    if (!trace_file) throw OptionError("trace", ": cannot write " + a.trace);
  }
  torch::manual_seed(a.config.seed);
  train::Pretrainer trainer(a.config, a.channels);
  const auto device = trainer.device();
  const int64_t B = a.config.batch_size;
  auto x = torch::rand({B, a.channels, a.length}, torch::TensorOptions().device(device));
  if (a.check_precision) check_precision(a, x, out);
  if (a.breakdown) breakdown(a, trainer, x, out);

  compat::reset_peak_memory(device);
  torch::Tensor loss;
  const auto conv_calls = engine::cpu_conv_calls();
  const int64_t norm_calls = nn::batch_norm_act_calls();
  const auto timing = time_rounds(a, device, [&] { loss = trainer.step(x); });
  const std::string cpu_label = cpu_conv_label(device, trainer, conv_calls, norm_calls, a.warmup + a.rounds * a.steps);
  const double dt = timing.median;
  const float final_loss = loss.item<float>();
  const int64_t peak = compat::peak_memory_bytes(device);

  if (!a.trace.empty()) {
    // LibTorch's profiler over `steps` more steps, written as a chrome trace
    // (chrome://tracing, or scripts/trace-summary.py for self time per
    // operator and, from Kineto on CUDA, per GPU kernel).
    compat::synchronize(device);
    auto steps = [&] {
      for (int64_t i = 0; i < a.steps; ++i) loss = trainer.step(x);
      compat::synchronize(device);
    };
    const bool kineto = a.profiler == "kineto" || (a.profiler == "auto" && device.is_cuda());
    std::string used = "kineto";
    if (kineto) trace_file.close();  // Kineto writes the file itself
    if (!kineto || !kineto_trace(a.trace, device.is_cuda(), steps)) {
      used = "legacy";
#ifdef LEAVES_HAS_RECORD_PROFILE
      if (!trace_file.is_open()) trace_file.open(a.trace);
      torch::autograd::profiler::RecordProfile guard(trace_file);
      steps();
#endif
    }
    std::fprintf(out, "leaves bench trace: %lld steps profiled into %s (profiler=%s)\n", static_cast<long long>(a.steps),
                a.trace.c_str(), used.c_str());
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
    std::fprintf(out, "leaves bench epoch N=%lld steps=%lld epoch_s=%.3f samples_per_s=%.1f mean_loss=%.3f\n",
                static_cast<long long>(a.epoch_size), static_cast<long long>(steps), s, steps * B / s, mean);
  }
  std::fprintf(out, "leaves bench pretrain method=%s B=%lld C=%lld L=%lld width=%lld device=%s name=\"%s\" precision=%s "
              "layout=%s conv_bias=%s cl_conv=%s cuda_graph=%s cpu_conv=%s threads=%d step_s=%.5f (median of %lld rounds, fastest %.5f, slowest %.5f) "
              "peak_mem_mib=%s samples_per_s=%.1f loss=%.3f\n",
              a.config.method.c_str(), static_cast<long long>(B), static_cast<long long>(a.channels),
              static_cast<long long>(a.length), static_cast<long long>(a.config.width), device.str().c_str(),
              compat::device_name(device).c_str(), trainer.mixed_precision() ? "bf16" : "fp32",
              engine::layout_name(trainer.encoder->options.execution().layout),
              engine::conv_bias_name(trainer.encoder->options.execution().conv_bias), engine::cl_conv_name(trainer.encoder->options.execution().cl_conv),
              trainer.graph_captured() ? "yes" : "no", cpu_label.c_str(),
              torch::get_num_threads(), dt,
              static_cast<long long>(a.rounds), timing.fastest, timing.slowest,
              peak < 0 ? "n/a" : std::to_string(peak >> 20).c_str(), B / dt, final_loss);
  return 0;
}


}  // namespace leaves::bench
