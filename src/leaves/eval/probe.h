// Frozen-feature probes of an encoder on a data set's splits: each chooses its
// one setting without the test split and evaluates the test split once.
//
//   knn       k in {1, 5, 10, 20, 50} chosen on validation macro-F1
//   logistic  the L2 penalty in {1e-4, 1e-3, 1e-2, 1e-1} chosen on validation macro-F1
//   svm       the literature's protocol (T-Loss): an RBF SVM on train + validation,
//             C by stratified 5-fold cross-validation accuracy (svm_probe.h)
#pragma once
#include <string>

#include "leaves/data/dataset.h"
#include "leaves/eval/metrics.h"
#include "leaves/nn/resnet1d.h"

namespace leaves::eval {

struct ProbeReport {
  Metrics test;     ///< with bootstrap 95 % intervals (1,000 resamples)
  std::string how;  ///< the setting chosen and how, in words
};

/// Probes `encoder` (kind: knn | logistic | svm) on single-label splits;
/// throws std::invalid_argument for multi-label data or another kind.
ProbeReport frozen_probe(nn::ResNet1d encoder, const data::Splits& splits, const std::string& kind);

}  // namespace leaves::eval
