// The subcommands of the `leaves` tool. Each registers its options on the
// parser and returns the function that runs it; no algorithm lives here.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "leaves/dist/dist.h"
#include "leaves/train/pretrain.h"
#include "leaves/views/factory.h"
#include "tools/leaves/options_cli.h"

namespace leaves::cli {

/// The work of one subcommand, run after parsing; returns the exit code.
using Action = std::function<int()>;

/// Number checks with short messages (CLI11's own print their range's bound:
/// "not in range 0.000000 to 1797693...", 309 digits).
inline const CLI::Validator kPositive(
    [](std::string& text) -> std::string {
      double v = 0;
      return CLI::detail::lexical_cast(text, v) && v > 0 ? std::string() : "must be > 0, got " + text;
    },
    "> 0", "positive");
inline const CLI::Validator kNonNegative(
    [](std::string& text) -> std::string {
      double v = 0;
      return CLI::detail::lexical_cast(text, v) && v >= 0 ? std::string() : "must be >= 0, got " + text;
    },
    ">= 0", "non-negative");

/// --schedule and --warmup (pre-training and fine-tuning alike).
inline void add_schedule_options(CLI::App* cmd, std::string& schedule, double& warmup) {
  cmd->add_option("--schedule", schedule, "learning-rate schedule after the warm-up: cosine | constant")
      ->check(CLI::IsMember({"cosine", "constant"}))
      ->capture_default_str();
  cmd->add_option("--warmup", warmup, "linear warm-up over this fraction of the steps")
      ->check(CLI::Range(0.0, 0.99))
      ->capture_default_str();
}

/// "a,b,,c" -> {"a", "b", "c"}.
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

/// `leaves views`: draws views of the built-in synthetic ECG with a generator.
Action add_views_command(CLI::App& app);
/// `leaves augment`: a split through a generator, as .npy arrays.
Action add_augment_command(CLI::App& app);
/// `leaves pretrain`: adversarial contrastive pre-training into a run directory.
Action add_pretrain_command(CLI::App& app);
/// `leaves options pretrain|finetune`: the option tables of the schema (leaves/train/options.h).
Action add_options_command(CLI::App& app);
/// `leaves bench pretrain`: samples per second of the pre-training step.
Action add_bench_command(CLI::App& app);

/// `leaves prepare STUDY --root RAW --out DIR` (or a whole spec) and `leaves info DIR`: prepared data sets.
Action add_prepare_command(CLI::App& app);
Action add_info_command(CLI::App& app);
/// `leaves download STUDY --dest DIR`: the raw files from their public homes.
Action add_download_command(CLI::App& app);

/// Downstream evaluation: `leaves finetune`, `supervised`, `embed`, `probe`, `experiment`.
Action add_finetune_command(CLI::App& app);
Action add_supervised_command(CLI::App& app);
Action add_embed_command(CLI::App& app);
Action add_probe_command(CLI::App& app);
Action add_experiment_command(CLI::App& app);
/// `leaves benchmark`: one protocol over several UCR/UEA sets beside published figures.
Action add_benchmark_command(CLI::App& app);

/// `leaves quality`: the ECG quality check of signals and generated views (Table 5).
Action add_quality_command(CLI::App& app);

/// `leaves plot KIND` and `leaves report RUN_DIR`.
Action add_plot_command(CLI::App& app);
Action add_report_command(CLI::App& app);

/// `leaves launch --nproc N -- COMMAND ...`: N local data-parallel workers.
Action add_launch_command(CLI::App& app);

/// This process's rank of the world a launcher described in the environment,
/// connected (Gloo on the CPU, NCCL for a CUDA `device`), or null for a single
/// process. `timeout_s` > 0 overrides LEAVES_DIST_TIMEOUT.
std::shared_ptr<dist::Communicator> connect_world(const std::string& device, double timeout_s);

/// Registers the view-generator options (--eta, --mixture-components, ...) on `cmd`.
void add_generator_options(CLI::App* cmd, views::GeneratorConfig& g);

/// --precision, --layout, --no-cuda-graphs, --no-cudnn-benchmark (pre-training on a GPU).
void add_accelerator_options(CLI::App* cmd, train::PretrainConfig& c);

}  // namespace leaves::cli
