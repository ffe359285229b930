// `leaves report RUN_DIR`: one self-contained HTML page (figures embedded as
// base64 PNG data, no scripts, no external resources) for a pre-training run
// (config, loss curves, learned parameters, views of its data, the time
// distortion), a fine-tuning run (config, test metrics with intervals,
// per-class table, confusion matrix, ROC, training curves) or an experiment
// directory (the results table and every run).
#pragma once
#include <filesystem>
#include <string>

namespace leaves::plot {

/// Writes the report of `run_dir` to `html` (atomically); returns what kind of
/// directory it was ("pretrain", "finetune" or "experiment"). Throws
/// std::invalid_argument when `run_dir` is none of these.
std::string write_report(const std::filesystem::path& run_dir, const std::filesystem::path& html);

/// Base64 of a file's bytes (OpenSSL's encoder).
std::string base64_file(const std::filesystem::path& file);

}  // namespace leaves::plot

#include "leaves/plot/figures.h"
#include "leaves/views/leaves.h"

namespace leaves::plot {

/// Figures of a run directory (the same ones the report embeds).
void figure_curves(const std::filesystem::path& run_dir, const std::filesystem::path& stem, FigureSize size = {});
void figure_params(const std::filesystem::path& run_dir, const std::filesystem::path& stem, FigureSize size = {});
/// Several runs compared (Fig. 5): `labels` name them (empty: the runs' folder names).
void figure_params_of_runs(const std::vector<std::filesystem::path>& run_dirs, const std::vector<std::string>& labels,
                           const std::filesystem::path& stem, FigureSize size = {});
void figure_confusion(const std::filesystem::path& finetune_dir, const std::filesystem::path& stem, FigureSize size = {});
void figure_roc(const std::filesystem::path& finetune_dir, const std::filesystem::path& stem, FigureSize size = {});
/// Fig. 4 for a LEAVES generator's time distortion on `x` `[L]`.
void figure_time_distortion(views::LeavesImpl& generator, const torch::Tensor& x, const std::filesystem::path& stem,
                            FigureSize size = {});
/// Fig. 3: `x` `[L]` through each of a LEAVES generator's augmentations (and a time warp).
void figure_gallery(views::LeavesImpl& generator, const torch::Tensor& x, double rate, const std::filesystem::path& stem,
                    FigureSize size = {});

}  // namespace leaves::plot
