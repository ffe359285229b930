// Downstream evaluation (paper section 4): a classifier head on a pre-trained
// encoder, fine-tuned end to end (the paper's protocol: Adam, lr 1e-3, 30
// epochs, 20 for PAMAP2) or as a linear probe on frozen features, and the
// supervised baseline (the same ResNet-18 1D and head from random weights).
//
// Model selection uses the validation split only: after every epoch the
// validation metric (`select`) is computed and the best epoch's weights are
// kept (ties keep the earlier epoch); with `patience` > 0 training stops after
// that many epochs without improvement. The test split is evaluated once, at
// the end, with the selected weights, and its metrics get bootstrap 95%
// confidence intervals (the reference code picks the best epoch on test; this
// does not).
//
// Run directory: config.json, log.jsonl (per epoch: train loss, validation
// metrics), model.pt (the selected encoder + head), test_predictions.csv,
// metrics.json (written last: its presence marks a finished run).
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>

#include "leaves/data/dataset.h"
#include "leaves/dist/dist.h"
#include "leaves/eval/metrics.h"
#include "leaves/nn/resnet1d.h"

namespace leaves::train {

/// "auto" BatchNorm statistics (FinetuneConfig::bn_stats) recompute them when
/// an epoch has at most this many optimisation steps: 1 / momentum.
inline constexpr int64_t kRecomputeBatchNormMaxSteps = 10;

/// "auto" validation (FinetuneConfig::validation) keeps a validation split
/// from this many series on.
inline constexpr int64_t kMinValidationSeries = 50;

struct FinetuneConfig {
  std::string data = "synthetic";  ///< data spec or prepared directory
  std::string encoder;             ///< pre-training run directory; empty: supervised from random weights
  bool linear = false;             ///< train the head only, on frozen features (encoder in eval mode)
  double labels = 1.0;             ///< fraction of the training labels used (stratified, seeded)
  bool class_weights = false;      ///< weight the loss by inverse class frequency (multi-label: pos_weight)
  int64_t epochs = 30;
  /// The fewest optimizer steps: when `epochs` epochs give fewer (a UCR set of
  /// 20-100 series gives one step per epoch), the run lasts ceil(min_steps /
  /// steps per epoch) epochs instead (config.json's resolved.epochs). 0: epochs alone.
  int64_t min_steps = 300;
  double lr = 1e-3;                ///< Adam
  double weight_decay = 0.0;
  /// "cosine" (linear warm-up over `warmup` of the steps, then half a cosine to
  /// 0 at the last step) or "constant" (the paper's).
  std::string schedule = "cosine";
  double warmup = 0.05;
  int64_t batch_size = 128;
  /// Model selection. "split": the best epoch on the validation split (as
  /// below). "none": the validation series join the training split and the
  /// last epoch is kept (with a decaying schedule, the end of training is the
  /// principled choice when too few series are left to rank epochs: 3-20
  /// validation series rank them by one or two predictions and pick epochs 1-4).
  /// "auto": none when the validation split holds fewer than
  /// kMinValidationSeries series, split otherwise. Said in the output and in
  /// config.json's resolved.validation.
  std::string validation = "auto";
  /// Validation metric for model selection: accuracy, macro_f1, auc, sensitivity,
  /// specificity, or "auto" (auc for multi-label targets, macro_f1 otherwise).
  std::string select = "auto";
  int64_t patience = 0;            ///< early stopping after this many epochs without improvement (0: off)
  std::string positive;            ///< binary tasks: the positive class by name ("" = class 1)
  int64_t width = 64;              ///< supervised baseline only: ResNet-18 1D width
  int64_t bootstrap = 1000;        ///< bootstrap resamples for the test intervals (0: none)
  std::string device = "cpu";
  uint64_t seed = 0;
  /// Data-parallel runs: BatchNorm statistics over the global batch (SyncBatchNorm).
  bool sync_batchnorm = false;
  /// The encoder's BatchNorm statistics used for validation, test and the saved
  /// model. "running": the exponential averages kept during training (PyTorch's
  /// and the paper's protocol). "recompute": before each validation, one
  /// forward pass without gradient over the training split in batches of
  /// `batch_size` replaces them by the average of the batch statistics of the
  /// current weights (nn::recompute_batchnorm_statistics). The running averages
  /// (momentum 0.1: about the last 10 steps) lag behind weights that move
  /// quickly; with few steps per epoch (a UCR set gives one or two) evaluation
  /// mode then predicts from stale statistics, often one class for every input.
  /// Recomputing costs one forward pass over the training split per epoch,
  /// about a third of an epoch. "auto": recompute when an epoch has at most
  /// `kRecomputeBatchNormMaxSteps` steps (where the averages' window spans a
  /// whole epoch or more), else running. Not with `linear` (frozen encoder: its
  /// pre-trained statistics are kept; "auto" means running there).
  std::string bn_stats = "auto";

  void validate() const;
  nlohmann::json to_json() const;
  static FinetuneConfig from_json(const nlohmann::json& j);
};

struct FinetuneResult {
  eval::Metrics val;    ///< at the selected epoch
  eval::Metrics test;   ///< once, with the selected weights
  int64_t best_epoch = 0;
  int64_t epochs_run = 0;
  std::string select;   ///< the metric used
  double seconds = 0;
  std::vector<std::string> class_names;
  nlohmann::json to_json() const;
};

/// The training labels kept for a label fraction: per class (y; -1 counts as
/// one more group) max(1, round(fraction * n_c)) samples, chosen by `seed`.
torch::Tensor label_subset(const torch::Tensor& y, double fraction, uint64_t seed);

/// Throws std::invalid_argument unless `run_dir` may receive a fine-tuning
/// run: absent, empty, or an interrupted fine-tuning run (config.json without
/// metrics.json), which starts again.
void check_finetune_dir(const std::filesystem::path& run_dir);

/// Fine-tunes (or trains the supervised baseline) into `run_dir`, which must not
/// hold a finished run. Progress lines go to `progress` if given.
///
/// Data-parallel with `comm`: `batch_size` is per rank; gradients are averaged
/// over the ranks (weighted by shard size, so the update is the global batch's)
/// and BatchNorm buffers broadcast from rank 0 (or synchronised); every rank
/// scores the whole validation split with the same weights, so all select the
/// same epoch and stop together; rank 0 alone evaluates the test split once
/// and writes the run directory. Other ranks' results hold validation only.
FinetuneResult finetune(const FinetuneConfig& config, const std::filesystem::path& run_dir, std::ostream* progress,
                        std::shared_ptr<dist::Communicator> comm = nullptr);

/// A finished run's result (metrics.json); throws when there is none.
nlohmann::json read_finetune_result(const std::filesystem::path& run_dir);

}  // namespace leaves::train
