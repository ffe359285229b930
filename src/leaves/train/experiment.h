// `leaves experiment`: the paper's tables (Tables 1-4, 6) in one command. For
// every method and seed: pre-training (none for the supervised baseline), then
// fine-tuning with model selection on validation and one test evaluation; then
// a table of the test metrics, mean +- sample standard deviation over seeds.
//
// OUT/experiment.json                 the settings
// OUT/runs/METHOD/seed-S/pretrain/    a pre-training run directory
// OUT/runs/METHOD/seed-S/finetune/    a fine-tuning run directory (metrics.json when finished)
// OUT/results.md, results.csv, results.json
//
// Resumable: a re-run with the same OUT skips finished fine-tuning runs, reuses
// finished pre-training runs, continues interrupted ones from their last
// checkpoint, and restarts interrupted fine-tuning runs. Methods and seeds may
// be added; other settings must match those recorded.
#pragma once
#include <filesystem>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "leaves/train/finetune.h"
#include "leaves/train/pretrain.h"
#include "leaves/train/results.h"

namespace leaves::train {

inline PretrainConfig paper_pretrain() {
  PretrainConfig p;
  p.epochs = 100;
  p.batch_size = 128;
  return p;
}

inline constexpr int64_t kSvmMaxSeries = 10000;

struct ExperimentConfig {
  std::string data;
  std::vector<std::string> methods{"supervised", "simclr", "viewmaker", "leaves"};
  int64_t seeds = 3;
  std::vector<double> sweep_simclr;  ///< extra rows "simclr T(sigma)" (paper Table 6)
  /// Template: data, method, seed and sigma are set per run. Defaults are the
  /// paper's protocol (100 epochs, batch 128; lr, tau, eta as PretrainConfig).
  PretrainConfig pretrain = paper_pretrain();
  FinetuneConfig finetune;           ///< template: data, encoder and seed are set per run (30 epochs, batch 128)
  std::vector<std::string> metrics;  ///< table columns; empty: chosen by the task
  /// The literature's frozen-representation protocol for every pre-trained
  /// run (eval/svm_probe.h: an RBF SVM on the encoder's representations of the
  /// whole training split, train + validation, C by cross-validation, test
  /// once): "on", "off", or "auto" (on for single-label sets of at most
  /// kSvmMaxSeries training series: LIBSVM's cost grows with their square).
  std::string svm = "auto";
  std::string preset;                ///< name of the preset applied, for the record
  /// A preset's data options (its [data] table): appended to `data` when the
  /// spec is of `preset_data_kind` and does not set them itself (the Sleep-EDF
  /// preset's subjects=0-19: the paper's cohort).
  std::string preset_data_kind, preset_data_options;

  /// The data set's sizes as the paper reports them (a preset's [paper] table:
  /// samples, train, test, class_counts {NAME = N}), for `leaves info --preset`.
  nlohmann::json paper = nlohmann::json::object();

  /// `data` with the preset's data options where they apply.
  std::string data_spec() const;

  void validate() const;
};

/// Applies a preset TOML file (configs/*.toml): [pretrain] epochs, lr,
/// generator_lr, batch_size, tau, eta, mixture_components, max_segments,
/// sigma, width, min_steps, schedule, warmup, weight_decay; [finetune] epochs,
/// lr, batch_size, select, positive, patience, bn_stats, class_weights,
/// min_steps, schedule, warmup, weight_decay, validation; [table] metrics;
/// [data] kind and options (appended to a spec of that kind).
/// Unknown keys are errors naming the file.
void apply_preset(ExperimentConfig& config, const std::filesystem::path& toml_file);

/// A preset by name (configs/NAME.toml under the working directory or beside
/// the executable's ../configs) or by path; throws listing where it looked.
std::filesystem::path find_preset(const std::string& name_or_path, const std::filesystem::path& executable_dir);

struct ExperimentSummary {
  nlohmann::json results;  ///< what results.json holds
  std::string table;       ///< the Markdown table (results.md's first table)
};

/// Runs (or continues) the experiment into `out`.
ExperimentSummary run_experiment(const ExperimentConfig& config, const std::filesystem::path& out, std::ostream* progress);


/// The equivalent `leaves pretrain` / `leaves finetune` command lines of a run.
std::string pretrain_command(const PretrainConfig& c, const std::filesystem::path& out);
std::string finetune_command(const FinetuneConfig& c, const std::filesystem::path& out);

}  // namespace leaves::train
