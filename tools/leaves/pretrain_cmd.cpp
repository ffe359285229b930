// `leaves pretrain`: parses and validates the options, calls the library's
// pre-training, and tells the user where the run is and what to do next.
#include <torch/torch.h>

#include <chrono>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <fstream>

#include "leaves/train/finetune.h"
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

/// A setting of a run as its config.json records it (the device a resumed run
/// was trained on, for the backend choice), or `fallback`.
std::string recorded(const std::string& dir, const std::string& key, const std::string& fallback) {
  std::ifstream f(std::filesystem::path(dir) / "config.json");
  const auto j = f ? nlohmann::json::parse(f, nullptr, false) : nlohmann::json();
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : fallback;
}

/// `s` as one shell word.
std::string quoted(const std::string& s) {
  if (!s.empty() && s.find_first_of(" \t'\"$\\;&|()<>*?`") == std::string::npos) return s;
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

/// The data of a run: as resolved (absolute paths) when recorded, else as typed.
std::string recorded_data(const std::string& dir) {
  std::ifstream f(std::filesystem::path(dir) / "config.json");
  const auto j = f ? nlohmann::json::parse(f, nullptr, false) : nlohmann::json();
  if (j.is_object() && j.contains("resolved") && j["resolved"].is_object() && j["resolved"].contains("data"))
    return j["resolved"]["data"].get<std::string>();
  return recorded(dir, "data", "DATA");
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
  auto comm = connect_world(a.resume.empty() ? a.config.device : recorded(a.resume, "device", "cpu"), a.dist_timeout);
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
  const std::string dir = result.run_dir.string();
  std::cout << "done: " << result.epochs_done << " epochs, final loss " << result.last_loss << "\n"
            << "run directory: " << result.run_dir.string() << "\n"
            << "  config.json      every option of this run\n"
            << "  log.jsonl        one line per epoch: losses, throughput, learned view parameters\n"
            << "  checkpoints/     last.pt (resume with: leaves pretrain --resume " << result.run_dir.string()
            << " --epochs N)\n"
            << "  encoder.pt       the pre-trained encoder, for fine-tuning and linear probes\n"
            << "next:\n"
            << "  leaves plot params --run " << quoted(dir) << " --out " << quoted(dir + "/params")
            << "      the learned view parameters over training\n"
            << "  leaves report " << quoted(dir) << "      curves, parameters and views on one page\n"
            << "  leaves finetune --encoder " << quoted(dir) << " --data " << quoted(a.resume.empty() ? a.config.data : recorded_data(dir)) << " --out "
            << quoted(dir + "-finetune") << "      fine-tune and test\n";
  return 0;
}

}  // namespace

void add_accelerator_options(CLI::App* cmd, train::PretrainConfig& c) {
  add_schema_options(cmd, options::pretrain_schema(), c,
                     {"precision", "layout", "cpu_conv", "cpu_norm", "gpu_norm", "conv_bias", "cl_conv", "cuda_graphs",
                      "cudnn_benchmark"});
}

Action add_pretrain_command(CLI::App& app) {
  auto a = std::make_shared<PretrainArgs>();
  auto& c = a->config;
  auto* cmd = app.add_subcommand("pretrain", "Adversarial contrastive pre-training (LEAVES, SimCLR, ViewMaker)");
  // Every option of the run from the schema (leaves/train/options.h).
  auto* epochs = add_schema_options(cmd, options::pretrain_schema(), c).at("epochs");
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

namespace leaves::cli {

Action add_options_command(CLI::App& app) {
  auto which = std::make_shared<std::string>("pretrain");
  auto* cmd = app.add_subcommand("options",
                                 "Every option of a run as a Markdown table (the README's tables): flag, default, values, "
                                 "what it does; also the keys of config.json and of the presets");
  cmd->add_option("which", *which, "pretrain | finetune")->check(CLI::IsMember({"pretrain", "finetune"}))->capture_default_str();
  return [which] {
    if (*which == "pretrain") {
      std::cout << options::pretrain_schema().markdown(train::PretrainConfig());
    } else {
      std::cout << options::finetune_schema().markdown(train::FinetuneConfig());
    }
    return 0;
  };
}

}  // namespace leaves::cli
