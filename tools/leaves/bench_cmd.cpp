// `leaves bench pretrain|norm|conv`: parses the options and runs the library's
// benchmarks (leaves/bench/step.h, leaves/bench/kernels.h).
#include <cstdio>
#include <memory>

#include "leaves/bench/kernels.h"
#include "leaves/bench/step.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

namespace {

// The options every kernel benchmark takes but its precision (whose choices differ).
void add_kernel_bench_options(CLI::App* cmd, bench::KernelBenchArgs& a, int64_t min_length, const std::string& in_channels,
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
  auto a = std::make_shared<bench::BenchArgs>();
  auto* group = app.add_subcommand("bench", "Benchmarks");
  group->require_subcommand(1);
  auto* cmd = group->add_subcommand("pretrain", "Samples per second of one adversarial pre-training step");
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

  auto n = std::make_shared<bench::NormArgs>();
  auto* norm = group->add_subcommand(
      "norm", "leaves' own kernels against LibTorch's ops: the fused BatchNorm + residual + LeakyReLU (and on CUDA "
              "the fused stem), time and float64 error per shape; the permutation's index and relaxed products");
  add_kernel_bench_options(norm, *n, 8, "input channels of the stem (CUDA: the fused stem is timed too)",
                           "timed forward + backward passes per shape");
  norm->add_option("--precision", n->precision, "activations: fp32, bf16, fp16 (CUDA), or auto (bf16 on CUDA)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16", "fp16"}))
      ->capture_default_str();
  auto cv = std::make_shared<bench::ConvArgs>();
  auto* conv = group->add_subcommand(
      "conv", "Each convolution of the encoder (forward, input gradient, weight gradient) as LibTorch runs it "
              "(cuDNN on CUDA in bf16 channels-last, oneDNN on the CPU), against a matrix product of the same "
              "arithmetic (what faster convolution kernels could win at most, per shape), and leaves' im2col + matrix "
              "product convolution (--cl-conv gemm)");
  add_kernel_bench_options(conv, *cv, 16, "input channels C", "timed calls per pass");
  conv->add_option("--precision", cv->precision, "fp32, bf16 (CUDA), or auto (bf16 on CUDA)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->capture_default_str();
  return [a, n, norm, cv, conv] {
    if (conv->parsed()) return bench::bench_conv(*cv, stdout);
    return norm->parsed() ? bench::bench_norm(*n, stdout) : bench::bench_step(*a, stdout);
  };
}

}  // namespace leaves::cli
