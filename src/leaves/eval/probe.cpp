#include "leaves/eval/probe.h"

#include <cmath>
#include <functional>
#include <iomanip>
#include <sstream>

#include "leaves/eval/linear_probe.h"
#include "leaves/eval/svm_probe.h"

namespace leaves::eval {

namespace {

std::string fixed4(double v) {
  if (std::isnan(v)) return "n/a";
  std::ostringstream s;
  s << std::fixed << std::setprecision(4) << v;
  return s.str();
}

}  // namespace

ProbeReport frozen_probe(nn::ResNet1d encoder, const data::Splits& splits, const std::string& kind) {
  if (kind != "knn" && kind != "logistic" && kind != "svm") {
    throw std::invalid_argument("probe must be knn, logistic or svm, got '" + kind + "'");
  }
  if (splits.train.targets.defined()) throw std::invalid_argument("probe: single-label data only");
  const int64_t K = static_cast<int64_t>(splits.train.class_names.size());
  auto ftr = eval::embed(encoder, splits.train.x), fva = eval::embed(encoder, splits.val.x),
       fte = eval::embed(encoder, splits.test.x);
  // The probe's one setting (k, or the L2 penalty) is chosen on validation macro-F1.
  std::function<torch::Tensor(const torch::Tensor&)> best;
  double best_score = -1;
  std::string chosen;
  if (kind == "svm") {
    // The literature's protocol: all labelled training data (train and
    // validation), C by cross-validation on it, the test split once.
    const auto features = torch::cat({ftr, fva}), labels = torch::cat({splits.train.y, splits.val.y});
    const auto svm = eval::fit_svm_probe(features, labels);
    const auto pred = svm.predict(fte);
    auto probs = torch::one_hot(pred, K).to(torch::kDouble);
    auto m = eval::single_label_metrics(splits.test.y, probs);
    eval::add_bootstrap_intervals(
        m, splits.test.size(),
        [&](const torch::Tensor& ix) {
          return eval::single_label_metrics(splits.test.y.index_select(0, ix), probs.index_select(0, ix));
        },
        1000, 0);
    std::ostringstream how;
    how << "svm probe (RBF, gamma " << svm.gamma << ", C " << svm.c;
    if (svm.cv_accuracy >= 0) {
      how << " chosen by 5-fold cross-validation accuracy " << fixed4(svm.cv_accuracy);
    } else {
      how << ": too few series per class to cross-validate, hard margin";
    }
    how << " on " << features.size(0) << " train + validation series); test, " << splits.test.size()
        << " samples (AUC from hard decisions)";
    return {m, how.str()};
  }
  if (kind == "knn") {
    for (int64_t k : {1, 5, 10, 20, 50}) {
      if (k > ftr.size(0)) break;
      auto p = eval::knn_probabilities(ftr, splits.train.y, fva, k, K);
      const double s = eval::single_label_metrics(splits.val.y, p).macro_f1;
      if (s > best_score) {
        best_score = s;
        chosen = "k = " + std::to_string(k);
        best = [=](const torch::Tensor& q) { return eval::knn_probabilities(ftr, splits.train.y, q, k, K); };
      }
    }
  } else {
    for (double l2 : {1e-4, 1e-3, 1e-2, 1e-1}) {
      auto probe = eval::fit_linear_probe(ftr, splits.train.y, eval::LinearProbeOptions().l2(l2));
      const double s = eval::single_label_metrics(splits.val.y, probe.probabilities(fva).to(torch::kDouble)).macro_f1;
      if (s > best_score) {
        best_score = s;
        std::ostringstream n;
        n << "l2 = " << l2;
        chosen = n.str();
        best = [probe](const torch::Tensor& q) { return probe.probabilities(q).to(torch::kDouble); };
      }
    }
  }
  auto probs = best(fte);
  if (probs.size(1) < K) probs = torch::cat({probs, torch::zeros({probs.size(0), K - probs.size(1)}, probs.options())}, 1);
  auto m = eval::single_label_metrics(splits.test.y, probs);
  eval::add_bootstrap_intervals(
      m, splits.test.size(),
      [&](const torch::Tensor& ix) { return eval::single_label_metrics(splits.test.y.index_select(0, ix), probs.index_select(0, ix)); },
      1000, 0);
  std::ostringstream how;
  how << kind << " probe (" << chosen << ", chosen on validation macro-F1 " << fixed4(best_score) << "); test, "
      << splits.test.size() << " samples";
  return {m, how.str()};
}

}  // namespace leaves::eval
