// `leaves bench pretrain`: times the adversarial pre-training step on random
// data of a given shape and prints samples per second.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "leaves/train/pretrain.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

namespace {

struct BenchArgs {
  train::PretrainConfig config;
  int64_t channels = 1, length = 3000, steps = 10, warmup = 3;
};

int run_bench(const BenchArgs& a) {
  if (a.steps < 1 || a.warmup < 0) throw std::invalid_argument("--steps must be >= 1 and --warmup >= 0");
  torch::manual_seed(a.config.seed);
  train::Pretrainer trainer(a.config, a.channels);
  const auto device = trainer.device();
  const int64_t B = a.config.batch_size;
  auto x = torch::rand({B, a.channels, a.length}, torch::TensorOptions().device(device));
  torch::Tensor loss;
  for (int64_t i = 0; i < a.warmup; ++i) loss = trainer.step(x);
  if (loss.defined()) loss.item<float>();  // synchronise before timing
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < a.steps; ++i) loss = trainer.step(x);
  const float final_loss = loss.item<float>();  // waits for the device
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / a.steps;
  std::printf("leaves bench pretrain method=%s B=%lld C=%lld L=%lld width=%lld device=%s threads=%d step_s=%.4f "
              "samples_per_s=%.1f loss=%.3f\n",
              a.config.method.c_str(), static_cast<long long>(B), static_cast<long long>(a.channels),
              static_cast<long long>(a.length), static_cast<long long>(a.config.width), device.str().c_str(),
              torch::get_num_threads(), dt, B / dt, final_loss);
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
  cmd->add_option("--steps", a->steps, "timed steps")->capture_default_str();
  cmd->add_option("--warmup", a->warmup, "untimed warm-up steps")->capture_default_str();
  cmd->add_option("--seed", c.seed, "random seed")->capture_default_str();
  add_generator_options(cmd, c.views);
  return [a] { return run_bench(*a); };
}

}  // namespace leaves::cli
