// The literature's frozen-representation protocol (T-Loss, Franceschi et al.
// 2019, and the UCR/UEA papers that follow it): a support-vector machine with
// an RBF kernel on the representations, its penalty C chosen by stratified
// k-fold cross-validation on the training data, fitted on all of it, and the
// test data classified once. Through LIBSVM (Debian's libsvm-dev).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace leaves::eval {

struct SvmProbeOptions {
  /// The penalties tried (T-Loss's grid: 10^-4 ... 10^4, plus a hard margin).
  std::vector<double> c_grid = {1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1e3, 1e4, 1e6};
  int64_t folds = 5;      ///< stratified folds of the cross-validation
  uint64_t seed = 0;      ///< fold assignment
  /// RBF gamma; <= 0: scikit-learn's "scale", 1 / (D * variance of all features).
  double gamma = 0;
  /// Below this many series per class (or 50 series in all), there is no
  /// cross-validation (folds would hold a handful of series): C is the hard
  /// margin, as T-Loss's code does.
  int64_t min_per_class_for_cv = 5;
  int64_t min_series_for_cv = 50;
};

struct SvmProbe {
  double c = 0, gamma = 0;
  double cv_accuracy = -1;  ///< mean accuracy over the folds at the chosen C (-1: no cross-validation)
  std::vector<std::pair<double, double>> cv_scores;  ///< (C, mean fold accuracy) for every C tried
  torch::Tensor support_features;  ///< what the model was fitted on (kept to rebuild it)
  torch::Tensor support_labels;
  /// Class indices `[M]` for `query` `[M, D]`.
  torch::Tensor predict(const torch::Tensor& query) const;
};

/// The RBF gamma of scikit-learn's "scale": 1 / (D * var(features)).
double scale_gamma(const torch::Tensor& features);

/// Stratified fold index of every sample (`labels` `[N]`, `folds` folds,
/// seeded): each class's samples are shuffled and dealt round-robin.
std::vector<int64_t> stratified_folds(const torch::Tensor& labels, int64_t folds, uint64_t seed);

/// Predictions `[M]` of a C-SVC with an RBF kernel fitted on (features, labels).
torch::Tensor svm_fit_predict(const torch::Tensor& features, const torch::Tensor& labels, const torch::Tensor& query,
                              double c, double gamma);

/// Chooses C by cross-validation (or takes the hard margin on tiny sets) and
/// fits the SVM on all of `features` `[N, D]` / `labels` `[N]`.
SvmProbe fit_svm_probe(const torch::Tensor& features, const torch::Tensor& labels, const SvmProbeOptions& options = {});

}  // namespace leaves::eval
