// The paper's figures, drawn by gnuplot (Debian gnuplot-nox): each figure is
// written as STEM.png (cairo) and STEM.svg from one gnuplot script with the
// data inline. The files appear atomically (temporary names, then rename).
// The gnuplot program is $LEAVES_GNUPLOT or `gnuplot` on the PATH.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace leaves::plot {

struct FigureSize {
  int width = 1000, height = 600;  ///< pixels of the PNG (and the SVG's size)
};

/// Named 1-D curves `[L]`.
using Series = std::vector<std::pair<std::string, torch::Tensor>>;

/// Fig. 1: an original signal and views of it overlaid; `rate` > 0 puts seconds on the x axis.
void plot_views(const torch::Tensor& original, const Series& views, double rate, const std::string& title,
                const std::filesystem::path& stem, FigureSize size = {});

/// Fig. 3: the same sample through each augmentation separately, one panel each.
void plot_gallery(const torch::Tensor& original, const Series& augmented, double rate,
                  const std::filesystem::path& stem, FigureSize size = {});

/// Fig. 4: the density of lambda = tanh(z), z ~ sum_i pi_i N(mu_i, s_i^2), over
/// (-1, 1) (with the components' centres), and a signal resampled at sorted
/// draws of lambda against the original.
void plot_time_distortion(const torch::Tensor& weights, const torch::Tensor& means, const torch::Tensor& scales,
                          const torch::Tensor& original, const torch::Tensor& distorted, const torch::Tensor& lambda,
                          const std::filesystem::path& stem, FigureSize size = {});

/// Fig. 5: every learned view parameter of a pre-training log (log.jsonl
/// records with "epoch" and "generator"), grouped into panels by kind.
void plot_params(const std::vector<nlohmann::json>& log, const std::filesystem::path& stem, FigureSize size = {});
/// The paper's Fig. 5: one panel per scalar learned parameter (the jitter,
/// scale and magnitude-warp sigmas, the permutation's segments), a line per
/// run (label, its log.jsonl records).
void plot_params_of_runs(const std::vector<std::pair<std::string, std::vector<nlohmann::json>>>& runs,
                         const std::filesystem::path& stem, FigureSize size = {});

/// Losses per epoch: encoder and generator (pre-training log), or train loss
/// and the validation metric (fine-tuning log).
void plot_curves(const std::vector<nlohmann::json>& log, const std::filesystem::path& stem, FigureSize size = {});

/// A confusion matrix (rows: true class) as a heat map with its counts.
void plot_confusion(const std::vector<std::vector<int64_t>>& confusion, const std::vector<std::string>& classes,
                    const std::filesystem::path& stem, FigureSize size = {});

/// ROC curves from labels `[N]` and class probabilities `[N, K]`: the positive
/// class for K = 2 (class 1 unless `positive` >= 0), one-vs-rest per class otherwise.
void plot_roc(const torch::Tensor& labels, const torch::Tensor& probs, const std::vector<std::string>& classes,
              int64_t positive, const std::filesystem::path& stem, FigureSize size = {});

/// Runs gnuplot on `body` once per terminal (pngcairo, svg), with `data`
/// defined as inline data blocks ($NAME << EOD). Throws std::runtime_error
/// with gnuplot's message when it fails, std::invalid_argument for a bad size.
void render(const std::vector<std::pair<std::string, std::string>>& data, const std::string& body,
            const std::filesystem::path& stem, FigureSize size);

}  // namespace leaves::plot
