// Metrics against hand computations and scikit-learn 1.2.1 (Debian
// python3-sklearn); the inputs and sklearn's outputs are written as literals.
#include "leaves/eval/metrics.h"

#include "testing.h"

using namespace leaves::eval;

namespace {
torch::Tensor binary_probs(const std::vector<double>& p) {
  auto t = torch::tensor(p, torch::kDouble).view({-1, 1});
  return torch::cat({1 - t, t}, 1);
}
}  // namespace

TEST(Metrics, AucWithTiesMatchesSklearn) {
  // roc_auc_score([0,0,1,1,0,1,1,0], [.1,.4,.4,.8,.4,.8,.3,.1]) = 0.8125
  std::vector<bool> y{false, false, true, true, false, true, true, false};
  EXPECT_NEAR(roc_auc(y, {0.1, 0.4, 0.4, 0.8, 0.4, 0.8, 0.3, 0.1}), 0.8125, 1e-12);
  // By hand: all tied -> 0.5; perfectly separated -> 1; reversed -> 0; one class -> NaN.
  EXPECT_DOUBLE_EQ(roc_auc({true, false, true}, {1, 1, 1}), 0.5);
  EXPECT_DOUBLE_EQ(roc_auc({false, true, true}, {0.1, 0.5, 0.9}), 1.0);
  EXPECT_DOUBLE_EQ(roc_auc({true, false}, {0.9, 0.1}), 1.0);
  EXPECT_DOUBLE_EQ(roc_auc({false, true}, {0.9, 0.1}), 0.0);
  EXPECT_TRUE(std::isnan(roc_auc({true, true}, {0.1, 0.2})));
}

TEST(Metrics, MacroF1WithAnAbsentClassMatchesSklearn) {
  // f1_score([0,0,1,1,2,2,0,1], [0,1,1,1,3,2,0,3], average='macro', zero_division=0) = 0.5333...
  // (class 3 is predicted but never true: F1 0, averaged in)
  std::vector<int64_t> t{0, 0, 1, 1, 2, 2, 0, 1}, p{0, 1, 1, 1, 3, 2, 0, 3};
  EXPECT_NEAR(macro_f1(t, p, 4), 0.5333333333333333, 1e-12);
  // Class 1 neither true nor predicted: left out of the average (sklearn: 0.6666...).
  EXPECT_NEAR(macro_f1({0, 0, 2, 2, 0, 2}, {0, 2, 2, 2, 0, 0}, 3), 0.6666666666666666, 1e-12);
  // Per class: sklearn precision [1, .667, 1, 0], recall [.667, .667, .5, 0].
  std::vector<double> probs_rows;
  for (auto k : p)
    for (int j = 0; j < 4; ++j) probs_rows.push_back(j == k ? 0.7 : 0.1);
  auto m = single_label_metrics(torch::tensor(t, torch::kLong), torch::tensor(probs_rows, torch::kDouble).view({8, 4}));
  const std::vector<double> precision{1.0, 2.0 / 3, 1.0, 0.0}, recall{2.0 / 3, 2.0 / 3, 0.5, 0.0};
  for (int k = 0; k < 4; ++k) {
    EXPECT_NEAR(m.per_class[k].precision, precision[k], 1e-12) << k;
    EXPECT_NEAR(m.per_class[k].recall, recall[k], 1e-12) << k;
  }
  EXPECT_EQ(m.per_class[3].support, 0);
  EXPECT_EQ(m.confusion[1][3], 1);
  EXPECT_NEAR(m.accuracy, 5.0 / 8, 1e-12);
  EXPECT_NEAR(m.macro_f1, 0.5333333333333333, 1e-12);
}

TEST(Metrics, BinarySensitivitySpecificityAucMatchSklearn) {
  // y = [1,0,1,1,0,0,1,0,0,1], p = [.9,.2,.4,.7,.6,.1,.8,.3,.55,.35]; thresholded at 0.5:
  // recall(pos 1) = 0.6, recall(pos 0) = 0.6, accuracy 0.6, roc_auc 0.84, macro F1 0.6,
  // confusion [[3, 2], [2, 3]].
  auto y = torch::tensor({1, 0, 1, 1, 0, 0, 1, 0, 0, 1}, torch::kLong);
  auto probs = binary_probs({0.9, 0.2, 0.4, 0.7, 0.6, 0.1, 0.8, 0.3, 0.55, 0.35});
  auto m = single_label_metrics(y, probs, 1);
  EXPECT_NEAR(m.sensitivity, 0.6, 1e-12);
  EXPECT_NEAR(m.specificity, 0.6, 1e-12);
  EXPECT_NEAR(m.accuracy, 0.6, 1e-12);
  EXPECT_NEAR(m.auc, 0.84, 1e-12);
  EXPECT_NEAR(m.macro_f1, 0.6, 1e-12);
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int64_t>>{{3, 2}, {2, 3}}));
  // Class 0 as the positive one: sensitivity and specificity swap, AUC of its scores.
  auto swapped = single_label_metrics(y, probs, 0);
  EXPECT_NEAR(swapped.auc, 0.84, 1e-12);
  // By hand: sensitivity = TP / (TP + FN) with class 0 positive = 3 / 5.
  EXPECT_NEAR(swapped.sensitivity, 0.6, 1e-12);
  leaves::testing::expect_invalid_argument(
      [] { single_label_metrics(torch::tensor({0, 1, 2}, torch::kLong), torch::rand({3, 3}), 1); }, "binary tasks only");
}

TEST(Metrics, MultiClassOneVsRestAndMultiLabelAucMatchSklearn) {
  // roc_auc_score([0,1,2,2,1,0,2], P, multi_class='ovr', average='macro') = 0.85
  auto y = torch::tensor({0, 1, 2, 2, 1, 0, 2}, torch::kLong);
  auto P = torch::tensor({.6, .3, .1, .2, .5, .3, .1, .3, .6, .3, .3, .4, .3, .4, .3, .5, .2, .3, .2, .6, .2},
                         torch::kDouble)
               .view({7, 3});
  EXPECT_NEAR(single_label_metrics(y, P).auc, 0.85, 1e-12);
  // roc_auc_score(T, P, average='macro') = 0.736111... (per label .667, .708, .833)
  auto T = torch::tensor({1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 0}, torch::kDouble).view({7, 3});
  auto Q = torch::tensor({.9, .2, .1, .3, .8, .6, .2, .6, .3, .2, .7, .7, .5, .3, .5, .4, .2, .5, .5, .1, .2},
                         torch::kDouble)
               .view({7, 3});
  auto single = torch::tensor({0, 1, -1, 2, -1, -1, -1}, torch::kLong);
  auto m = multi_label_metrics(T, Q, single);
  EXPECT_NEAR(m.auc, 0.7361111111111112, 1e-12);
  // Accuracy on the three single-label samples by the most probable label: rows 0, 1 right; row 3 (0.7 tie) -> 1.
  EXPECT_NEAR(m.accuracy, 2.0 / 3, 1e-12);
  EXPECT_EQ(m.samples, 7);
}

TEST(Metrics, BootstrapIntervalsAreSeededAndContainTheEstimate) {
  torch::manual_seed(0);
  const int64_t n = 400;
  auto y = torch::randint(0, 2, {n}, torch::kLong);
  auto p = (0.3 * y.to(torch::kDouble) + 0.7 * torch::rand({n}, torch::kDouble));
  auto probs = torch::stack({1 - p, p}, 1);
  auto compute = [&](const torch::Tensor& ix) { return single_label_metrics(y.index_select(0, ix), probs.index_select(0, ix), 1); };
  auto m = single_label_metrics(y, probs, 1);
  add_bootstrap_intervals(m, n, compute, 200, 7);
  auto again = single_label_metrics(y, probs, 1);
  add_bootstrap_intervals(again, n, compute, 200, 7);
  for (const char* name : {"accuracy", "macro_f1", "auc", "sensitivity", "specificity"}) {
    ASSERT_TRUE(m.ci95.count(name)) << name;
    const auto [lo, hi] = m.ci95.at(name);
    EXPECT_LE(lo, m.get(name)) << name;
    EXPECT_GE(hi, m.get(name)) << name;
    EXPECT_LT(hi - lo, 0.2) << name;
    EXPECT_GT(hi - lo, 0.0) << name;
    EXPECT_EQ(again.ci95.at(name), m.ci95.at(name)) << name;
  }
  EXPECT_THROW(m.get("kappa"), std::invalid_argument);
  auto j = m.to_json({"normal", "apnea"});
  EXPECT_EQ(j["per_class"][1]["class"], "apnea");
  EXPECT_EQ(j["ci95"]["auc"].size(), 2u);
}
