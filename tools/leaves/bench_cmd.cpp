// `leaves bench pretrain`: times the adversarial pre-training step on random
// data of a given shape (warm-up steps first, then the median of several timed
// rounds), optionally a full epoch over a resident data set of a given size,
// and optionally checks the bf16 loss against fp32 on the same batch.
// `leaves bench norm`: the fused normalisation kernels against LibTorch's ops.
// `leaves bench conv`: the encoder's convolutions against matrix products of
// the same arithmetic.
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
#include <iostream>
#include <set>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "leaves/augment/permutation.h"
#include "leaves/compat.h"
#include "leaves/loss/nt_xent.h"
#include "leaves/nn/batchnorm.h"
#include "leaves/engine/cl_conv.h"
#include "leaves/train/pretrain.h"
#include "tools/leaves/commands.h"
#include "leaves/engine/op_counter.h"

namespace leaves::cli {

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

struct BenchArgs {
  train::PretrainConfig config;
  int64_t channels = 1, length = 3000, steps = 10, warmup = 3, rounds = 3, epoch_size = 0;
  bool check_precision = false, breakdown = false;
  std::string trace;  ///< non-empty: profile `steps` more steps into this chrome-trace file
  std::string profiler = "auto";  ///< kineto | legacy | auto (kineto on CUDA: GPU kernels too)
};

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
  std::printf("breakdown (eager, per step): views fwd+bwd %.5f s, encoder+head+NT-Xent fwd+bwd %.5f s, "
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
  std::printf("breakdown (operators that do work, per pass): views fwd+bwd %lld, encoder+head+NT-Xent fwd+bwd "
              "%lld, whole step %lld (host syncs in it: %lld)\n",
              ops[0], ops[1], ops[2], syncs);
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
    if (kineto) out.close();  // Kineto writes the file itself
    if (!kineto || !kineto_trace(a.trace, device.is_cuda(), steps)) {
      used = "legacy";
#ifdef LEAVES_HAS_RECORD_PROFILE
      if (!out.is_open()) out.open(a.trace);
      torch::autograd::profiler::RecordProfile guard(out);
      steps();
#endif
    }
    std::printf("leaves bench trace: %lld steps profiled into %s (profiler=%s)\n", static_cast<long long>(a.steps),
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
    std::printf("leaves bench epoch N=%lld steps=%lld epoch_s=%.3f samples_per_s=%.1f mean_loss=%.3f\n",
                static_cast<long long>(a.epoch_size), static_cast<long long>(steps), s, steps * B / s, mean);
  }
  std::printf("leaves bench pretrain method=%s B=%lld C=%lld L=%lld width=%lld device=%s name=\"%s\" precision=%s "
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


// ---------------------------------------------------------------------------
// `leaves bench norm`: the fused BatchNorm + residual + LeakyReLU
// (nn::batch_norm_act) against LibTorch's separate ops, at every BatchNorm
// shape of the encoder, forward + backward: the time of each, and the error
// of each against the same ops in float64 on the same inputs. The fused
// kernel passes where its error is at most twice LibTorch's own, plus a floor
// (1e-5 in fp32, 1e-2 in bf16/fp16); any other result exits 1.
// The options of the kernel benchmarks (`bench norm`, `bench conv`): the
// encoder's shapes at B rows of length L, and the timing.
struct KernelBenchArgs {
  std::string device = "cpu", precision = "auto";
  int64_t batch = 256, length = 3000, width = 64, in_channels = 1, iters = 20, warmup = 3;
  uint64_t seed = 1;
};

struct NormArgs : KernelBenchArgs {
  double slope = 0.01;
};

struct NormCase {
  std::string name;
  int64_t C, L, per_step;  ///< per_step: how many BatchNorms of this kind one encoder forward has
  bool residual, activate;
};

// The encoder's BatchNorms (nn::ResNet1d): the stem at L, then four stages of
// width w, 2w, 4w, 8w at L / 2 (after the max-pool) and halving (stride 2).
std::vector<NormCase> encoder_norms(int64_t width, int64_t length) {
  std::vector<NormCase> cases{{"stem", width, length, 1, false, true}};
  int64_t L = length / 2;
  for (int s = 0; s < 4; ++s) {
    const int64_t C = width << s;
    if (s > 0) L = (L - 1) / 2 + 1;  // a 3-tap convolution, padding 1, stride 2
    const std::string stage = "stage" + std::to_string(s + 1);
    cases.push_back({stage + ".bn1", C, L, 2, false, true});
    cases.push_back({stage + ".bn2+residual", C, L, 2, true, true});
    if (s > 0) cases.push_back({stage + ".shortcut", C, L, 1, false, false});
  }
  return cases;
}

struct NormOutputs {
  std::vector<torch::Tensor> t;
  std::vector<const char*> names;  // of each of t
};

// Milliseconds per call of `fn`: `warmup` calls, then `iters` timed ones, the
// device synchronised around them.
template <typename Fn>
double ms_per_call(const torch::Device& device, int64_t warmup, int64_t iters, Fn fn) {
  for (int64_t i = 0; i < warmup; ++i) fn();
  compat::synchronize(device);
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < iters; ++i) fn();
  compat::synchronize(device);
  return 1e3 * seconds_since(t0) / iters;
}

NormOutputs run_norm_once(nn::BatchNorm1d bn, const torch::Tensor& x, const torch::Tensor& res,
                          const torch::Tensor& g, const NormCase& k, double slope, bool fused) {
  auto xi = x.detach().clone().requires_grad_(true);
  torch::Tensor ri = k.residual ? res.detach().clone().requires_grad_(true) : torch::Tensor();
  auto y = nn::batch_norm_act(bn, xi, ri, k.activate, slope, fused);
  y.backward(g);
  NormOutputs o;
  o.t = {y.detach(), xi.grad(), bn->weight.grad(), bn->bias.grad(), bn->running_mean.clone(),
         bn->running_var.clone()};
  o.names = {"y", "dx", "dweight", "dbias", "running_mean", "running_var"};
  if (k.residual) o.t.push_back(ri.grad()), o.names.push_back("dresidual");
  return o;
}

nn::BatchNorm1d copy_of(const nn::BatchNorm1d& bn) {
  return nn::BatchNorm1d(std::dynamic_pointer_cast<nn::BatchNorm1dImpl>(bn->clone()));
}

// max |a - ref| / max |ref| over every output; the worst output's name.
std::pair<double, std::string> norm_error(const NormOutputs& a, const NormOutputs& ref) {
  double worst = 0;
  std::string which = ref.names.at(0);
  for (size_t i = 0; i < ref.t.size(); ++i) {
    auto r = ref.t[i].to(torch::kCPU, torch::kDouble);
    auto d = (a.t[i].to(torch::kCPU, torch::kDouble) - r).abs().max().item<double>();
    const double scale = std::max(r.abs().max().item<double>(), 1e-30);
    if (!(d / scale <= worst)) worst = d / scale, which = ref.names.at(i);  // NaN is the worst
  }
  return {worst, which};
}

// The stem on CUDA: leaves' fused kernels (nn::fused_stem) against the
// encoder's separate ops (convolution, BatchNorm, LeakyReLU, max-pool), under
// bf16 autocast when `bf16`, and both against the separate ops in float64.
// Compared: the output, the input's gradient, the convolution's weight
// gradient, BatchNorm's gradients and running statistics (not the convolution
// bias's gradient: it is zero in exact arithmetic, so only rounding noise).
struct StemResult {
  double fused_ms, torch_ms, err_fused, err_torch;
  std::string worst_fused, worst_torch;
};

StemResult run_stem(const NormArgs& a, const torch::Device& device, bool bf16, int64_t iters, int64_t warmup) {
  const auto opts = torch::TensorOptions().device(device);
  auto x = (torch::randn({a.batch, a.in_channels, a.length}, opts) * 2 + 0.5).unsqueeze(2).contiguous(
      at::MemoryFormat::ChannelsLast);
  const int64_t C = a.width;
  torch::nn::Conv1d conv(torch::nn::Conv1dOptions(a.in_channels, C, 3).padding(1));
  nn::BatchNorm1d bn(C);
  {
    torch::NoGradGuard no_grad;
    bn->weight.normal_(1.0, 0.2);
    bn->bias.normal_(0.0, 0.2);
  }
  conv->to(device);
  bn->to(device);
  auto g = torch::randn({a.batch, C, 1, a.length / 2}, opts).contiguous(at::MemoryFormat::ChannelsLast);
  if (bf16) g = g.to(torch::kBFloat16);
  // One forward + backward; returns the compared outputs.
  auto once = [&](torch::nn::Conv1d c, nn::BatchNorm1d b, const torch::Tensor& input, bool fused, bool amp) {
    auto xi = input.detach().clone().requires_grad_(true);
    for (auto* t : {&c->weight, &c->bias, &b->weight, &b->bias}) t->mutable_grad() = torch::Tensor();
    torch::Tensor y;
    {
      compat::AutocastGuard guard(device, amp);
      if (fused) {
        y = nn::fused_stem(c, b, xi, a.slope);
      } else {
        y = nn::batch_norm_act(b, nn::conv_any_layout(c, xi), {}, true, a.slope, false);
        y = torch::max_pool2d(y, {1, 2}, {1, 2});
      }
    }
    y.backward(g.to(y.scalar_type()));
    NormOutputs o;
    o.t = {y.detach(), xi.grad(), c->weight.grad(), b->weight.grad(), b->bias.grad(), b->running_mean.clone(),
           b->running_var.clone()};
    o.names = {"y", "dx", "dconv_weight", "dweight", "dbias", "running_mean", "running_var"};
    return o;
  };
  auto conv_copy = [](const torch::nn::Conv1d& c) {
    return torch::nn::Conv1d(std::dynamic_pointer_cast<torch::nn::Conv1dImpl>(c->clone()));
  };
  auto ref_conv = conv_copy(conv);
  auto ref_bn = copy_of(bn);
  ref_conv->to(torch::kDouble);
  ref_bn->to(torch::kDouble);
  const auto ref = once(ref_conv, ref_bn, x.to(torch::kDouble), false, false);
  if (!nn::stem_fusable(conv, *bn, x, a.slope)) throw std::runtime_error("bench norm: the fused stem does not apply");
  const auto fused = once(conv_copy(conv), copy_of(bn), x, true, bf16);
  const auto plain = once(conv_copy(conv), copy_of(bn), x, false, bf16);
  StemResult r;
  std::tie(r.err_fused, r.worst_fused) = norm_error(fused, ref);
  std::tie(r.err_torch, r.worst_torch) = norm_error(plain, ref);
  for (int f = 0; f < 2; ++f) {
    auto c = conv_copy(conv);
    auto b = copy_of(bn);
    (f == 0 ? r.fused_ms : r.torch_ms) = ms_per_call(device, warmup, iters, [&] { once(c, b, x, f == 0, bf16); });
  }
  return r;
}

// The segment permutation's index and the relaxed estimator's products as the
// library runs them on `device` (leaves' kernels on CUDA, loops on the CPU)
// against LibTorch's operators (permutation_index_reference, K gathers and
// sums), at B rows of C x L and K = 5 segments: equal index, products within
// rounding; time of each. Returns whether it is ok.
bool check_permutation(const torch::Device& device, int64_t B, int64_t C, int64_t L, int64_t warmup, int64_t iters) {
  const int64_t K = 5;
  const auto opts = torch::TensorOptions().device(device);
  auto counts = torch::randint(1, K + 1, {B}, opts.dtype(torch::kLong));
  auto keys = torch::rand({B, K}, opts);
  auto x = torch::randn({B, C, L}, opts), g = torch::randn({B, C, L}, opts);
  auto by_operators = [&] { return augment::relaxed_permutation_products_reference(g, x, keys); };
  const bool same_index =
      torch::equal(augment::permutation_index(counts, keys, L), augment::permutation_index_reference(counts, keys, L));
  auto want = by_operators().to(torch::kDouble);
  auto got = augment::relaxed_permutation_products(g, x, keys).to(torch::kDouble);
  const double err = ((got - want).abs().max() / want.abs().max().clamp_min(1e-30)).item<double>();
  const bool ok = same_index && err <= 1e-5;
  const double ms_index = ms_per_call(device, warmup, iters, [&] { augment::permutation_index(counts, keys, L); });
  const double ms_index_ops =
      ms_per_call(device, warmup, iters, [&] { augment::permutation_index_reference(counts, keys, L); });
  const double ms_products =
      ms_per_call(device, warmup, iters, [&] { augment::relaxed_permutation_products(g, x, keys); });
  const double ms_products_ops = ms_per_call(device, warmup, iters, by_operators);
  std::printf("bench norm permutation         B=%lld C=%lld L=%lld K=%lld path=%s index_ms=%.4f (operators %.4f) "
              "products_ms=%.4f (operators %.4f) index %s, products rel_err=%.2e %s\n",
              static_cast<long long>(B), static_cast<long long>(C), static_cast<long long>(L),
              static_cast<long long>(K), augment::permutation_kernels() ? "own" : "operators", ms_index,
              ms_index_ops, ms_products, ms_products_ops,
              same_index ? "equal" : "DIFFERS", err, ok ? "ok" : "MISMATCH");
  return ok;
}

int run_norm(const NormArgs& a) {
  if (a.iters < 1 || a.warmup < 0) throw std::invalid_argument("--iters must be >= 1 and --warmup >= 0");
  const auto device = train::resolve_device(a.device);
  const std::string prec = a.precision == "auto" ? (device.is_cuda() ? "bf16" : "fp32") : a.precision;
  const auto dtype = prec == "bf16" ? torch::kBFloat16 : prec == "fp16" ? torch::kHalf : torch::kFloat;
  if (device.is_cuda() && !nn::batch_norm_act_cuda_built()) {
    throw std::invalid_argument("--device " + a.device + ": this build has no CUDA kernels of its own (configure "
                                "with a CUDA LibTorch and nvcc, LEAVES_CUDA_KERNELS=ON)");
  }
  if (!device.is_cuda() && dtype != torch::kFloat) {
    throw std::invalid_argument("--precision " + prec + ": the CPU kernel is fused in fp32 (and fp64) only");
  }
  const double floor = dtype == torch::kFloat ? 1e-5 : 1e-2;
  torch::manual_seed(a.seed);
  const auto opts = torch::TensorOptions().device(device);
  double fused_total = 0, torch_total = 0;
  int failed = 0;
  for (const auto& k : encoder_norms(a.width, a.length)) {
    // Channels-last [B, C, 1, L] on CUDA (how the encoder runs there), [B, C, L] on the CPU.
    auto make = [&](double sd, double mean) {
      auto t = torch::randn({a.batch, k.C, k.L}, opts) * sd + mean;
      if (device.is_cuda()) t = t.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast);
      return t.to(dtype);
    };
    const auto x = make(2.0, 0.5), res = make(1.0, 0.0), g = make(1.0, 0.0);
    nn::BatchNorm1d bn(k.C);
    {
      torch::NoGradGuard no_grad;
      bn->weight.normal_(1.0, 0.2);
      bn->bias.normal_(0.0, 0.2);
      bn->running_mean.normal_(0.0, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
    }
    bn->to(device);
    auto ref_bn = copy_of(bn);
    ref_bn->to(torch::kDouble);
    const auto ref = run_norm_once(ref_bn, x.to(torch::kDouble), res.to(torch::kDouble), g.to(torch::kDouble), k,
                                   a.slope, false);
    const int64_t calls = nn::batch_norm_act_calls();
    const auto fused = run_norm_once(copy_of(bn), x, res, g, k, a.slope, true);
    if (nn::batch_norm_act_calls() == calls) {
      throw std::runtime_error("bench norm: the fused kernel did not take case " + k.name);
    }
    const auto plain = run_norm_once(copy_of(bn), x, res, g, k, a.slope, false);
    const auto ef = norm_error(fused, ref), et = norm_error(plain, ref);
    const bool ok = ef.first <= 2 * et.first + floor;
    failed += !ok;

    double ms[2];
    for (int f = 0; f < 2; ++f) {
      auto b = copy_of(bn);
      auto xi = x.detach().clone().requires_grad_(true);
      torch::Tensor ri = k.residual ? res.detach().clone().requires_grad_(true) : torch::Tensor();
      auto once = [&] {
        for (auto* t : {&xi, &ri, &b->weight, &b->bias}) {
          if (t->defined()) t->mutable_grad() = torch::Tensor();
        }
        nn::batch_norm_act(b, xi, ri, k.activate, a.slope, f == 0).backward(g);
      };
      ms[f] = ms_per_call(device, a.warmup, a.iters, once);
    }
    fused_total += k.per_step * ms[0];
    torch_total += k.per_step * ms[1];
    std::printf("bench norm %-20s B=%lld C=%lld L=%lld dtype=%s fused_ms=%.4f torch_ms=%.4f speedup=%.2f "
                "err_fused=%.2e (%s) err_torch=%.2e (%s) %s\n",
                k.name.c_str(), static_cast<long long>(a.batch), static_cast<long long>(k.C),
                static_cast<long long>(k.L), prec.c_str(), ms[0], ms[1], ms[1] / ms[0], ef.first, ef.second.c_str(),
                et.first, et.second.c_str(), ok ? "ok" : "MISMATCH");
  }
  // The augmentations' permutation kernels (fp32, as the views run), at the
  // encoder's input shape.
  failed += !check_permutation(device, a.batch, a.in_channels, a.length, a.warmup, a.iters);
  if (device.is_cuda() && (dtype == torch::kFloat || dtype == torch::kBFloat16)) {
    // The stem as one kernel pair: convolution, BatchNorm, LeakyReLU and max-pool.
    const auto r = run_stem(a, device, dtype == torch::kBFloat16, a.iters, a.warmup);
    const bool ok = r.err_fused <= 2 * r.err_torch + floor;
    failed += !ok;
    fused_total += r.fused_ms;
    torch_total += r.torch_ms;
    std::printf("bench norm %-20s B=%lld Ci=%lld C=%lld L=%lld dtype=%s fused_ms=%.4f torch_ms=%.4f speedup=%.2f "
                "err_fused=%.2e (%s) err_torch=%.2e (%s) %s\n",
                "stem+conv+pool", static_cast<long long>(a.batch), static_cast<long long>(a.in_channels),
                static_cast<long long>(a.width), static_cast<long long>(a.length), prec.c_str(), r.fused_ms,
                r.torch_ms, r.torch_ms / r.fused_ms, r.err_fused, r.worst_fused.c_str(), r.err_torch,
                r.worst_torch.c_str(), ok ? "ok" : "MISMATCH");
  }
  std::printf("bench norm total device=%s name=\"%s\" dtype=%s fused_ms=%.3f torch_ms=%.3f speedup=%.2f "
              "(forward + backward of every BatchNorm of one encoder pass, B=%lld) %s\n",
              device.str().c_str(), compat::device_name(device).c_str(), prec.c_str(), fused_total, torch_total,
              torch_total / fused_total, static_cast<long long>(a.batch),
              failed ? "MISMATCH: the fused kernel's error exceeds twice LibTorch's" : "all ok");
  return failed ? 1 : 0;
}
// ---------------------------------------------------------------------------
// `leaves bench conv`: each convolution of the encoder as LibTorch runs it on
// the device (cuDNN on CUDA, channels-last [B, C, 1, L] in bf16 as the
// encoder runs there; oneDNN on the CPU, [B, C, L] in fp32), forward, input
// gradient and weight gradient apart, against a matrix product of the same
// arithmetic on the same device (cuBLAS, or the CPU's BLAS): [B Lout, k Ci] x
// [k Ci, Co] and its two transposed forms. The matrix product is what an
// ideal implicit-GEMM convolution would cost (it never forms the k shifted
// copies), so the gap between the two is what faster convolution kernels
// could win at most, shape by shape. No correctness is compared: the products
// are not convolutions. Also timed: leaves' own convolution as matrix products
// (engine/cl_conv.h, `--cl-conv gemm`: im2col, then those products), whose
// correctness the tests check.
using ConvArgs = KernelBenchArgs;

struct ConvCase {
  std::string name;
  int64_t Ci, Co, k, stride, Lin, Lout, per_pass;  ///< per_pass: how many of this shape one encoder forward has
};

// The encoder's convolutions (nn::ResNet1d): the stem at L; four stages of
// width w, 2w, 4w, 8w after the max-pool (L / 2), halving from the second on
// (a 3-tap stride-2 convolution and a 1 x 1 stride-2 shortcut open the stage).
std::vector<ConvCase> encoder_convs(int64_t width, int64_t in_channels, int64_t length) {
  std::vector<ConvCase> cases{{"stem", in_channels, width, 3, 1, length, length, 1}};
  int64_t L = length / 2;
  cases.push_back({"stage1.conv", width, width, 3, 1, L, L, 4});
  for (int s = 1; s < 4; ++s) {
    const int64_t C = width << s, Lout = (L - 1) / 2 + 1;
    const std::string stage = "stage" + std::to_string(s + 1);
    cases.push_back({stage + ".down", C / 2, C, 3, 2, L, Lout, 1});
    cases.push_back({stage + ".conv", C, C, 3, 1, Lout, Lout, 3});
    cases.push_back({stage + ".shortcut", C / 2, C, 1, 2, L, Lout, 1});
    L = Lout;
  }
  return cases;
}

int run_conv(const ConvArgs& a) {
  if (a.iters < 1 || a.warmup < 0) throw std::invalid_argument("--iters must be >= 1 and --warmup >= 0");
  const auto device = train::resolve_device(a.device);
  const std::string prec = a.precision == "auto" ? (device.is_cuda() ? "bf16" : "fp32") : a.precision;
  const auto dtype = prec == "bf16" ? torch::kBFloat16 : torch::kFloat;
  if (!device.is_cuda() && dtype != torch::kFloat) {
    throw std::invalid_argument("--precision " + prec + ": on the CPU the encoder's convolutions run in fp32");
  }
  torch::manual_seed(a.seed);
  const auto opts = torch::TensorOptions().device(device).dtype(dtype);
  const bool cl = device.is_cuda();  // the encoder's layout on this device
  // As the pre-training step runs them by default (--no-cudnn-benchmark aside):
  // cuDNN tries its algorithms on the first calls of each shape (the warm-up).
  if (device.is_cuda()) compat::set_cudnn_benchmark(true);
  auto activation = [&](int64_t C, int64_t L) {
    auto t = torch::randn({a.batch, C, L}, opts);
    return cl ? t.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast) : t;
  };
  double conv_total = 0, gemm_total = 0, ours_total = 0, flop_total = 0;
  for (const auto& c : encoder_convs(a.width, a.in_channels, a.length)) {
    const auto x = activation(c.Ci, c.Lin), gy = activation(c.Co, c.Lout);
    const auto w3 = torch::randn({c.Co, c.Ci, c.k}, opts) * (1.0 / std::sqrt(static_cast<double>(c.Ci * c.k)));
    auto w = cl ? w3.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast) : w3;
    const int64_t pad = (c.k - 1) / 2;
    const std::vector<int64_t> stride = cl ? std::vector<int64_t>{1, c.stride} : std::vector<int64_t>{c.stride};
    const std::vector<int64_t> padding = cl ? std::vector<int64_t>{0, pad} : std::vector<int64_t>{pad};
    const std::vector<int64_t> dilation(stride.size(), 1), out_pad(stride.size(), 0);
    auto y = cl ? at::conv2d(x, w, {}, stride, padding) : at::conv1d(x, w, {}, stride, padding);
    if (y.size(-1) != c.Lout) throw std::logic_error("bench conv: output length of " + c.name);
    auto pass = [&](bool dx, bool dw) {
      return at::convolution_backward(gy, x, w, c10::nullopt, stride, padding, dilation, false, out_pad, 1,
                                      {dx, dw, false});
    };
    double conv_ms[3], gemm_ms[3];
    conv_ms[0] = ms_per_call(device, a.warmup, a.iters, [&] {
      return cl ? at::conv2d(x, w, {}, stride, padding) : at::conv1d(x, w, {}, stride, padding);
    });
    conv_ms[1] = ms_per_call(device, a.warmup, a.iters, [&] { return pass(true, false); });
    conv_ms[2] = ms_per_call(device, a.warmup, a.iters, [&] { return pass(false, true); });
    // leaves' convolution as matrix products (engine/cl_conv.h, --cl-conv gemm),
    // on channels-last [B, C, 1, L] (made so on the CPU).
    const auto x4 = cl ? x : x.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast);
    const auto gy4 = cl ? gy : gy.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast);
    double ours_ms[3];
    ours_ms[0] = ms_per_call(device, a.warmup, a.iters, [&] { return engine::cl_gemm_detail::forward(x4, w3, c.stride); });
    ours_ms[1] = ms_per_call(device, a.warmup, a.iters,
                             [&] { return engine::cl_gemm_detail::input_grad(gy4, w3, c.stride, c.Lin); });
    ours_ms[2] = ms_per_call(device, a.warmup, a.iters,
                             [&] { return engine::cl_gemm_detail::weight_grad(x4, gy4, c.k, c.stride); });
    // The same arithmetic as matrix products: M = B Lout rows, K = k Ci, N = Co.
    const int64_t M = a.batch * c.Lout, K = c.k * c.Ci, N = c.Co;
    auto A = torch::randn({M, K}, opts), W = torch::randn({K, N}, opts), G = torch::randn({M, N}, opts);
    auto out_mn = torch::empty({M, N}, opts), out_mk = torch::empty({M, K}, opts), out_kn = torch::empty({K, N}, opts);
    gemm_ms[0] = ms_per_call(device, a.warmup, a.iters, [&] { return at::mm_out(out_mn, A, W); });
    gemm_ms[1] = ms_per_call(device, a.warmup, a.iters, [&] { return at::mm_out(out_mk, G, W.t()); });
    gemm_ms[2] = ms_per_call(device, a.warmup, a.iters, [&] { return at::mm_out(out_kn, A.t(), G); });
    const double flop = 3 * 2.0 * static_cast<double>(M) * K * N;  // the three passes
    const double cms = conv_ms[0] + conv_ms[1] + conv_ms[2], gms = gemm_ms[0] + gemm_ms[1] + gemm_ms[2];
    const double oms = ours_ms[0] + ours_ms[1] + ours_ms[2];
    conv_total += c.per_pass * cms;
    gemm_total += c.per_pass * gms;
    ours_total += c.per_pass * oms;
    flop_total += c.per_pass * flop;
    std::printf("bench conv %-16s x%lld B=%lld Ci=%lld Co=%lld k=%lld s=%lld L=%lld->%lld dtype=%s "
                "conv_ms fwd=%.4f dgrad=%.4f wgrad=%.4f gemm_ms fwd=%.4f dgrad=%.4f wgrad=%.4f "
                "im2col_ms fwd=%.4f dgrad=%.4f wgrad=%.4f conv_tflops=%.3f gemm_tflops=%.3f conv/gemm=%.2f "
                "im2col/conv=%.2f\n",
                c.name.c_str(), static_cast<long long>(c.per_pass), static_cast<long long>(a.batch),
                static_cast<long long>(c.Ci), static_cast<long long>(c.Co), static_cast<long long>(c.k),
                static_cast<long long>(c.stride), static_cast<long long>(c.Lin), static_cast<long long>(c.Lout),
                prec.c_str(), conv_ms[0], conv_ms[1], conv_ms[2], gemm_ms[0], gemm_ms[1], gemm_ms[2], ours_ms[0],
                ours_ms[1], ours_ms[2], flop / (cms * 1e9), flop / (gms * 1e9), cms / gms, oms / cms);
  }
  std::printf("bench conv total device=%s name=\"%s\" dtype=%s layout=%s conv_ms=%.3f gemm_ms=%.3f conv/gemm=%.2f "
              "im2col_ms=%.3f im2col/conv=%.2f conv_tflops=%.3f (forward + both gradients of the 20 convolutions "
              "of one encoder pass, B=%lld)\n",
              device.str().c_str(), compat::device_name(device).c_str(), prec.c_str(),
              cl ? "channels-last" : "channels-first", conv_total, gemm_total, conv_total / gemm_total, ours_total,
              ours_total / conv_total, flop_total / (conv_total * 1e9), static_cast<long long>(a.batch));
  return 0;
}
// The options every kernel benchmark takes but its precision (whose choices differ).
void add_kernel_bench_options(CLI::App* cmd, KernelBenchArgs& a, int64_t min_length, const std::string& in_channels,
                              const std::string& iters) {
  cmd->add_option("--device", a.device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--batch-size", a.batch, "rows B (two views of a batch: 2 x pairs)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--length", a.length, "input length L of the encoder")
      ->check(CLI::Range(min_length, int64_t{1} << 24))
      ->capture_default_str();
  cmd->add_option("--width", a.width, "encoder first-stage width")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--in-channels", a.in_channels, in_channels)->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--iters", a.iters, iters)->capture_default_str();
  cmd->add_option("--warmup", a.warmup, "untimed calls first")->capture_default_str();
  cmd->add_option("--seed", a.seed, "random seed")->check(kNonNegative)->capture_default_str();
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
  cmd->add_option("--profiler", a->profiler,
                  "for --trace: kineto (operators, and GPU kernels on CUDA), legacy (operators), or auto (kineto on CUDA)")
      ->check(CLI::IsMember({"auto", "kineto", "legacy"}))
      ->capture_default_str();
  cmd->add_flag("--check-precision", a->check_precision, "compare the bf16 loss with fp32 on the same batch and views");
  cmd->add_option("--seed", c.seed, "random seed")->check(kNonNegative)->capture_default_str();
  add_generator_options(cmd, c.views);

  auto n = std::make_shared<NormArgs>();
  auto* norm = bench->add_subcommand(
      "norm", "leaves' own kernels against LibTorch's ops: the fused BatchNorm + residual + LeakyReLU (and on CUDA "
              "the fused stem), time and float64 error per shape; the permutation's index and relaxed products");
  add_kernel_bench_options(norm, *n, 8, "input channels of the stem (CUDA: the fused stem is timed too)",
                           "timed forward + backward passes per shape");
  norm->add_option("--precision", n->precision, "activations: fp32, bf16, fp16 (CUDA), or auto (bf16 on CUDA)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16", "fp16"}))
      ->capture_default_str();
  auto cv = std::make_shared<ConvArgs>();
  auto* conv = bench->add_subcommand(
      "conv", "Each convolution of the encoder (forward, input gradient, weight gradient) as LibTorch runs it "
              "(cuDNN on CUDA in bf16 channels-last, oneDNN on the CPU), against a matrix product of the same "
              "arithmetic (what faster convolution kernels could win at most, per shape), and leaves' im2col + matrix "
              "product convolution (--cl-conv gemm)");
  add_kernel_bench_options(conv, *cv, 16, "input channels C", "timed calls per pass");
  conv->add_option("--precision", cv->precision, "fp32, bf16 (CUDA), or auto (bf16 on CUDA)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->capture_default_str();
  return [a, n, norm, cv, conv] {
    if (conv->parsed()) return run_conv(*cv);
    return norm->parsed() ? run_norm(*n) : run_bench(*a);
  };
}

}  // namespace leaves::cli
