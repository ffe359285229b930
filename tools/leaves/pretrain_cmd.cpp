// `leaves pretrain`: parses and validates the options, calls the library's
// pre-training, and tells the user where the run is and what to do next.
#include <torch/torch.h>

#include <chrono>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <fstream>

#include "leaves/train/pretrain.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

namespace {

struct PretrainArgs {
  train::PretrainConfig config;
  std::string out, resume;
  bool epochs_given = false;
  double dist_timeout = 0;  ///< seconds; 0: LEAVES_DIST_TIMEOUT or 300
};

/// The device a resumed run was trained on (its config.json), for the backend choice.
std::string resumed_device(const std::string& dir) {
  std::ifstream f(std::filesystem::path(dir) / "config.json");
  const auto j = f ? nlohmann::json::parse(f, nullptr, false) : nlohmann::json();
  return j.is_object() ? j.value("device", std::string("cpu")) : std::string("cpu");
}

std::string default_run_dir(const std::string& method) {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&now, &tm);
  std::ostringstream s;
  s << "runs/" << method << "-" << std::put_time(&tm, "%Y%m%d-%H%M%S");
  return s.str();
}

int run_pretrain(const PretrainArgs& a) {
  train::PretrainResult result;
  if (!a.resume.empty() && !a.out.empty() && a.out != a.resume) {
    throw std::invalid_argument("--out and --resume name different directories");
  }
  if (a.resume.empty()) a.config.validate();
  // Data-parallel when a launcher (torchrun, srun, leaves launch) set the world.
  auto comm = connect_world(a.resume.empty() ? a.config.device : resumed_device(a.resume), a.dist_timeout);
  const bool talk = !comm || comm->rank() == 0;
  std::ostream* progress = talk ? &std::cout : nullptr;
  if (!a.resume.empty()) {
    if (talk) std::cout << "resuming " << a.resume << "\n";
    result = train::resume_pretraining(a.resume, a.epochs_given ? a.config.epochs : 0, progress, comm);
  } else {
    // Every rank must agree on the directory: a default one is named by rank 0's clock.
    if (a.out.empty() && comm) throw std::invalid_argument("--out is required for a data-parallel run");
    const std::string out = a.out.empty() ? default_run_dir(a.config.method) : a.out;
    if (talk) train::check_new_run_dir(out);
    if (talk) {
      std::cout << "pre-training " << a.config.method << " on " << a.config.data << " for " << a.config.epochs
                << " epochs (batch " << a.config.batch_size << ", " << a.config.device << ") into " << out << "\n";
    }
    result = train::pretrain(a.config, out, progress, comm);
  }
  if (!talk) return 0;
  if (result.nothing_to_do) {
    std::cout << result.run_dir.string() << " has already trained its " << result.epochs_done
              << " epochs; nothing to do, nothing changed (give --epochs N with N > " << result.epochs_done
              << " to train further)\n";
    return 0;
  }
  std::cout << "done: " << result.epochs_done << " epochs, final loss " << result.last_loss << "\n"
            << "run directory: " << result.run_dir.string() << "\n"
            << "  config.json      every option of this run\n"
            << "  log.jsonl        one line per epoch: losses, throughput, learned view parameters\n"
            << "  checkpoints/     last.pt (resume with: leaves pretrain --resume " << result.run_dir.string()
            << " --epochs N)\n"
            << "  encoder.pt       the pre-trained encoder, for fine-tuning and linear probes\n"
            << "next: plot the learned parameters from log.jsonl, or pre-train a baseline with --method simclr\n";
  return 0;
}

}  // namespace

void add_accelerator_options(CLI::App* cmd, train::PretrainConfig& c) {
  cmd->add_option("--precision", c.precision,
                  "encoder arithmetic: bf16 (autocast, fp32 master weights), fp32, or auto (bf16 on CUDA)")
      ->check(CLI::IsMember({"auto", "bf16", "fp32"}))
      ->capture_default_str();
  cmd->add_option("--layout", c.layout,
                  "encoder memory layout: channels-last, channels-first, or auto (channels-last on CUDA)")
      ->check(CLI::IsMember({"auto", "channels-last", "channels-first"}))
      ->capture_default_str();
  cmd->add_option("--cpu-conv", c.cpu_conv,
                  "CPU: the encoder's convolutions as matrix products on the BLAS (blas: Winograd F(4,3) and "
                  "im2col), by LibTorch (torch: oneDNN), or auto (blas if the BLAS is fast, Winograd from 16 input channels)")
      ->check(CLI::IsMember({"auto", "blas", "torch"}))
      ->capture_default_str();
  cmd->add_option("--cpu-norm", c.cpu_norm,
                  "CPU: each BatchNorm with its residual add and LeakyReLU as one fused kernel (fused), or as "
                  "LibTorch's separate ops (torch)")
      ->check(CLI::IsMember({"fused", "torch"}))
      ->capture_default_str();
  cmd->add_option("--gpu-norm", c.gpu_norm,
                  "CUDA: each BatchNorm with its residual add and LeakyReLU, and the stem (convolution, BatchNorm, "
                  "LeakyReLU, max-pool), as leaves' own fused kernels (fused, channels-last), or cuDNN's and "
                  "LibTorch's separate ops (torch)")
      ->check(CLI::IsMember({"fused", "torch"}))
      ->capture_default_str();
  cmd->add_option("--conv-bias", c.conv_bias,
                  "the encoder's convolution biases in training: fold (left to the BatchNorm after each "
                  "convolution, which cancels them exactly: fewer passes, the same network) or apply (added "
                  "and differentiated as LibTorch's modules do)")
      ->check(CLI::IsMember({"fold", "apply"}))
      ->capture_default_str();
  cmd->add_option("--cl-conv", c.cl_conv,
                  "the channels-last layout's convolutions (the CUDA layout): LibTorch's (torch: cuDNN on CUDA) or "
                  "matrix products (gemm: im2col and cuBLAS; measure with `leaves bench conv`)")
      ->check(CLI::IsMember({"torch", "gemm"}))
      ->capture_default_str();
  auto* cp = &c;
  cmd->add_flag_callback("--no-cuda-graphs", [cp] { cp->cuda_graphs = false; },
                         "CUDA: run every step eagerly instead of replaying a graph");
  cmd->add_flag_callback("--no-cudnn-benchmark", [cp] { cp->cudnn_benchmark = false; },
                         "CUDA: no cuDNN autotuning (reproducible algorithms)");
}

Action add_pretrain_command(CLI::App& app) {
  auto a = std::make_shared<PretrainArgs>();
  auto& c = a->config;
  auto* cmd = app.add_subcommand("pretrain", "Adversarial contrastive pre-training (LEAVES, SimCLR, ViewMaker)");
  cmd->add_option("--data", c.data,
                  "data spec: synthetic[:size=N,length=L,channels=C,rate=HZ,noise=SD,seed=S,split_seed=S]")
      ->capture_default_str();
  cmd->add_option("--method", c.method, "leaves | simclr | viewmaker")
      ->check(CLI::IsMember({"leaves", "simclr", "viewmaker"}))
      ->capture_default_str();
  auto* epochs = cmd->add_option("--epochs", c.epochs, "training epochs")->check(kPositive)->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size, "pairs per step (B)")->check(CLI::Range(2, 1 << 20))->capture_default_str();
  cmd->add_option("--lr", c.lr, "encoder and projection-head learning rate (Adam)")->capture_default_str();
  cmd->add_option("--min-steps", c.min_steps,
                  "train at least this many optimizer steps: more epochs on a small set (0: --epochs alone)")
      ->check(kNonNegative)
      ->capture_default_str();
  cmd->add_option("--generator-lr", c.generator_lr,
                  "view-generator learning rate (Adam); 0: auto, max(1e-3, 10 / the run's steps)")
      ->check(kNonNegative)
      ->capture_default_str();
  add_schedule_options(cmd, c.schedule, c.warmup);
  cmd->add_option("--weight-decay", c.weight_decay, "encoder and head weight decay (decoupled, AdamW)")
      ->check(kNonNegative)
      ->capture_default_str();
  cmd->add_option("--tau", c.tau, "NT-Xent temperature")->capture_default_str();
  add_generator_options(cmd, c.views);
  cmd->add_option("--width", c.width, "encoder first-stage width (64: the paper's ResNet-18, 512-d)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--projection-hidden", c.projection_hidden, "projection-head hidden width (0: linear head)")
      ->check(CLI::Range(0, 1 << 16))
      ->capture_default_str();
  cmd->add_option("--device", c.device, "cpu | cuda | cuda:N")->capture_default_str();
  add_accelerator_options(cmd, c);
  cmd->add_option("--seed", c.seed, "random seed (initialisation, batches, views)")->check(kNonNegative)->capture_default_str();
  cmd->add_option("--checkpoint-every", c.checkpoint_every, "also keep a checkpoint every N epochs (0: last only)")
      ->check(kNonNegative)
      ->capture_default_str();
  cmd->add_flag("--sync-batchnorm", c.sync_batchnorm,
               "data-parallel: BatchNorm statistics over the global batch (default: each worker's own)");
  cmd->add_option("--bucket-mb", c.bucket_mb, "data-parallel: gradient all-reduce bucket size (MiB)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--dist-timeout", a->dist_timeout,
                  "data-parallel: seconds to wait for a peer before failing (default: LEAVES_DIST_TIMEOUT or 300)")
      ->check(kPositive);
  cmd->add_option("--out", a->out, "run directory (default: runs/METHOD-DATE-TIME)");
  cmd->add_option("--resume", a->resume, "continue the run in this directory (its config; --epochs may extend it)");
  return [a, epochs] {
    a->epochs_given = epochs->count() > 0;
    return run_pretrain(*a);
  };
}

}  // namespace leaves::cli
