#include "leaves/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <stdexcept>

namespace leaves::eval {

namespace {

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU, torch::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

void check_same_size(size_t a, size_t b) {
  if (a != b) throw std::invalid_argument("metrics: " + std::to_string(a) + " labels but " + std::to_string(b) + " predictions");
}

std::vector<ClassMetrics> per_class(const std::vector<std::vector<int64_t>>& cm) {
  const size_t K = cm.size();
  std::vector<ClassMetrics> out(K);
  for (size_t k = 0; k < K; ++k) {
    int64_t tp = cm[k][k], truth = 0, predicted = 0;
    for (size_t j = 0; j < K; ++j) {
      truth += cm[k][j];
      predicted += cm[j][k];
    }
    auto& c = out[k];
    c.support = truth;
    c.precision = predicted > 0 ? double(tp) / predicted : 0.0;  // zero_division = 0
    c.recall = truth > 0 ? double(tp) / truth : 0.0;
    c.f1 = c.precision + c.recall > 0 ? 2 * c.precision * c.recall / (c.precision + c.recall) : 0.0;
  }
  return out;
}

double macro_f1_from(const std::vector<std::vector<int64_t>>& cm) {
  const auto pc = per_class(cm);
  double sum = 0;
  int64_t used = 0;
  for (size_t k = 0; k < cm.size(); ++k) {
    int64_t predicted = 0;
    for (size_t j = 0; j < cm.size(); ++j) predicted += cm[j][k];
    if (pc[k].support == 0 && predicted == 0) continue;  // absent from both: not averaged
    sum += pc[k].f1;
    ++used;
  }
  return used ? sum / used : kNaN;
}

}  // namespace

double accuracy(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted) {
  check_same_size(truth.size(), predicted.size());
  if (truth.empty()) return kNaN;
  int64_t right = 0;
  for (size_t i = 0; i < truth.size(); ++i) right += truth[i] == predicted[i];
  return double(right) / truth.size();
}

std::vector<std::vector<int64_t>> confusion_matrix(const std::vector<int64_t>& truth,
                                                   const std::vector<int64_t>& predicted, int64_t classes) {
  check_same_size(truth.size(), predicted.size());
  std::vector<std::vector<int64_t>> cm(classes, std::vector<int64_t>(classes, 0));
  for (size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] < 0 || truth[i] >= classes || predicted[i] < 0 || predicted[i] >= classes) {
      throw std::invalid_argument("metrics: label " + std::to_string(truth[i]) + " or prediction " +
                                  std::to_string(predicted[i]) + " outside 0.." + std::to_string(classes - 1));
    }
    ++cm[truth[i]][predicted[i]];
  }
  return cm;
}

double macro_f1(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted, int64_t classes) {
  return macro_f1_from(confusion_matrix(truth, predicted, classes));
}

double roc_auc(const std::vector<bool>& positive, const std::vector<double>& scores) {
  check_same_size(positive.size(), scores.size());
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Sum of the positives' ranks, tied scores sharing their average rank.
  double rank_sum = 0;
  int64_t pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double average_rank = 0.5 * double(i + 1 + j);  // ranks i+1 .. j
    for (size_t k = i; k < j; ++k)
      if (positive[order[k]]) {
        rank_sum += average_rank;
        ++pos;
      }
    i = j;
  }
  const int64_t neg = static_cast<int64_t>(n) - pos;
  if (pos == 0 || neg == 0) return kNaN;
  return (rank_sum - double(pos) * (pos + 1) / 2) / (double(pos) * neg);
}

std::string known_metrics() { return "accuracy, macro_f1, auc, sensitivity, specificity"; }

double Metrics::get(const std::string& name) const {
  if (name == "accuracy") return accuracy;
  if (name == "macro_f1") return macro_f1;
  if (name == "auc") return auc;
  if (name == "sensitivity") return sensitivity;
  if (name == "specificity") return specificity;
  throw std::invalid_argument("unknown metric '" + name + "' (known: " + known_metrics() + ")");
}

nlohmann::json Metrics::to_json(const std::vector<std::string>& class_names) const {
  auto number = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
  nlohmann::json j{{"samples", samples},
                   {"accuracy", number(accuracy)},
                   {"macro_f1", number(macro_f1)},
                   {"auc", number(auc)},
                   {"sensitivity", number(sensitivity)},
                   {"specificity", number(specificity)},
                   {"confusion", confusion}};
  nlohmann::json classes = nlohmann::json::array();
  for (size_t k = 0; k < per_class.size(); ++k) {
    classes.push_back({{"class", k < class_names.size() ? class_names[k] : std::to_string(k)},
                       {"precision", per_class[k].precision},
                       {"recall", per_class[k].recall},
                       {"f1", per_class[k].f1},
                       {"support", per_class[k].support}});
  }
  j["per_class"] = classes;
  if (positive >= 0) {
    j["positive"] = positive < static_cast<int64_t>(class_names.size()) ? class_names[positive] : std::to_string(positive);
  }
  nlohmann::json ci = nlohmann::json::object();
  for (const auto& [name, interval] : ci95) ci[name] = {number(interval.first), number(interval.second)};
  j["ci95"] = ci;
  return j;
}

Metrics single_label_metrics(const torch::Tensor& labels, const torch::Tensor& probs, int64_t positive) {
  if (probs.dim() != 2 || labels.dim() != 1 || labels.size(0) != probs.size(0)) {
    throw std::invalid_argument("metrics: expected labels [N] and probabilities [N, K]");
  }
  const int64_t K = probs.size(1);
  if (positive >= 0 && K != 2) throw std::invalid_argument("metrics: a positive class is for binary tasks only");
  Metrics m;
  const auto truth = to_vector(labels);
  const auto predicted = to_vector(probs.argmax(1));
  m.samples = static_cast<int64_t>(truth.size());
  if (truth.empty()) return m;
  m.confusion = confusion_matrix(truth, predicted, K);
  m.per_class = per_class(m.confusion);
  m.accuracy = accuracy(truth, predicted);
  m.macro_f1 = macro_f1_from(m.confusion);
  auto p = probs.to(torch::kCPU, torch::kDouble).contiguous();
  auto column = [&](int64_t k) {
    auto c = p.select(1, k).contiguous();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  };
  auto is = [&](int64_t k) {
    std::vector<bool> b(truth.size());
    for (size_t i = 0; i < truth.size(); ++i) b[i] = truth[i] == k;
    return b;
  };
  if (K == 2) {
    const int64_t pos = positive >= 0 ? positive : 1;
    m.positive = pos;
    m.auc = roc_auc(is(pos), column(pos));
    m.sensitivity = m.per_class[pos].support ? m.per_class[pos].recall : kNaN;
    m.specificity = m.per_class[1 - pos].support ? m.per_class[1 - pos].recall : kNaN;
  } else {
    double sum = 0;
    int64_t used = 0;
    for (int64_t k = 0; k < K; ++k) {
      const double a = roc_auc(is(k), column(k));
      if (!std::isnan(a)) {
        sum += a;
        ++used;
      }
    }
    m.auc = used ? sum / used : kNaN;
  }
  return m;
}

Metrics multi_label_metrics(const torch::Tensor& targets, const torch::Tensor& probs, const torch::Tensor& single) {
  if (probs.dim() != 2 || targets.sizes() != probs.sizes() || single.dim() != 1 || single.size(0) != probs.size(0)) {
    throw std::invalid_argument("metrics: expected targets and probabilities [N, K] and single labels [N]");
  }
  const int64_t K = probs.size(1);
  auto t = targets.to(torch::kCPU, torch::kDouble).contiguous();
  auto p = probs.to(torch::kCPU, torch::kDouble).contiguous();
  double sum = 0;
  int64_t used = 0;
  for (int64_t k = 0; k < K; ++k) {
    auto tk = t.select(1, k).contiguous();
    auto pk = p.select(1, k).contiguous();
    std::vector<bool> positive(tk.numel());
    for (int64_t i = 0; i < tk.numel(); ++i) positive[i] = tk.data_ptr<double>()[i] > 0.5;
    const double a = roc_auc(positive, std::vector<double>(pk.data_ptr<double>(), pk.data_ptr<double>() + pk.numel()));
    if (!std::isnan(a)) {
      sum += a;
      ++used;
    }
  }
  const auto keep = (single >= 0).nonzero().flatten();
  Metrics m;
  if (keep.numel() > 0) m = single_label_metrics(single.index_select(0, keep), probs.index_select(0, keep));
  m.auc = used ? sum / used : kNaN;  // over all samples, every label
  m.sensitivity = m.specificity = kNaN;
  m.samples = probs.size(0);
  return m;
}

void add_bootstrap_intervals(Metrics& m, int64_t samples, const std::function<Metrics(const torch::Tensor&)>& compute,
                             int64_t resamples, uint64_t seed) {
  if (resamples <= 0 || samples <= 0) return;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, samples - 1);
  const std::vector<std::string> names{"accuracy", "macro_f1", "auc", "sensitivity", "specificity"};
  std::map<std::string, std::vector<double>> values;
  auto index = torch::empty({samples}, torch::kLong);
  for (int64_t r = 0; r < resamples; ++r) {
    auto* ix = index.data_ptr<int64_t>();
    for (int64_t i = 0; i < samples; ++i) ix[i] = pick(rng);
    const auto b = compute(index);
    for (const auto& n : names) {
      const double v = b.get(n);
      if (!std::isnan(v)) values[n].push_back(v);
    }
  }
  for (const auto& n : names) {
    auto& v = values[n];
    if (std::isnan(m.get(n)) || v.size() < 2) continue;
    std::sort(v.begin(), v.end());
    auto quantile = [&](double q) {  // linear interpolation between order statistics
      const double pos = q * (v.size() - 1);
      const auto lo = static_cast<size_t>(std::floor(pos));
      const auto hi = std::min(lo + 1, v.size() - 1);
      return v[lo] + (pos - lo) * (v[hi] - v[lo]);
    };
    m.ci95[n] = {quantile(0.025), quantile(0.975)};
  }
}

}  // namespace leaves::eval
