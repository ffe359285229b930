// Classification metrics for the paper's tables: accuracy, macro-F1, per-class
// precision/recall/F1, the confusion matrix, sensitivity and specificity (binary
// tasks, positive class named), ROC-AUC (binary; multi-class one-vs-rest macro;
// multi-label macro) and seeded bootstrap 95% confidence intervals.
//
// Conventions follow scikit-learn's defaults, so that numbers compare:
// - macro-F1 averages over the classes present in the true or the predicted
//   labels (sklearn's `labels=None`); a class predicted but never true has
//   recall 0/0 := 0 and F1 0, as with sklearn's zero_division=0.
// - ROC-AUC ranks tied scores by their average rank (the Mann-Whitney U, as
//   sklearn's trapezoidal ROC gives). One-vs-rest and multi-label macro AUC
//   average over the classes that have both positives and negatives in the
//   sample; NaN when there is none (sklearn raises instead).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace leaves::eval {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double accuracy(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted);
/// `[K][K]` counts, rows = true class, columns = predicted class.
std::vector<std::vector<int64_t>> confusion_matrix(const std::vector<int64_t>& truth,
                                                   const std::vector<int64_t>& predicted, int64_t classes);
double macro_f1(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted, int64_t classes);
/// AUC of `scores` for `positive` (true/false per sample); NaN when one side is empty.
double roc_auc(const std::vector<bool>& positive, const std::vector<double>& scores);

struct ClassMetrics {
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;  ///< true samples of the class
};

/// The metrics of one evaluation. Fields that do not apply are NaN.
struct Metrics {
  int64_t samples = 0;
  double accuracy = kNaN;
  double macro_f1 = kNaN;
  double auc = kNaN;          ///< binary: of the positive class; multi-class: OvR macro; multi-label: macro
  double sensitivity = kNaN;  ///< binary: recall of the positive class
  int64_t positive = -1;      ///< binary: the index of the positive class (sensitivity, specificity, AUC); else -1
  double specificity = kNaN;  ///< binary: recall of the negative class
  std::vector<ClassMetrics> per_class;
  std::vector<std::vector<int64_t>> confusion;
  std::map<std::string, std::pair<double, double>> ci95;  ///< bootstrap intervals by metric name

  /// "accuracy", "macro_f1", "auc", "sensitivity", "specificity"; throws for another name.
  double get(const std::string& name) const;
  nlohmann::json to_json(const std::vector<std::string>& class_names) const;
};

/// The metric names `Metrics::get` knows, comma-separated.
std::string known_metrics();

/// Single-label metrics from class probabilities `probs` `[N, K]` and labels `[N]`;
/// `positive` (>= 0, binary tasks only) names the class for sensitivity/specificity/AUC.
Metrics single_label_metrics(const torch::Tensor& labels, const torch::Tensor& probs, int64_t positive = -1);

/// Multi-label metrics from per-label probabilities `[N, K]` and 0/1 targets
/// `[N, K]`: macro AUC; accuracy, macro-F1 and the confusion matrix on the
/// single-label samples (`single` `[N]` >= 0) by the most probable label.
Metrics multi_label_metrics(const torch::Tensor& targets, const torch::Tensor& probs, const torch::Tensor& single);

/// Adds 95% percentile-bootstrap intervals to `m` for every metric it has:
/// `resamples` resamplings of the samples with replacement (seeded), `compute`
/// evaluating the metrics on an index tensor `[N]`.
void add_bootstrap_intervals(Metrics& m, int64_t samples, const std::function<Metrics(const torch::Tensor&)>& compute,
                             int64_t resamples, uint64_t seed);

}  // namespace leaves::eval
