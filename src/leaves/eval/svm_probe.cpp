#include "leaves/eval/svm_probe.h"

#include <libsvm/svm.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>

namespace leaves::eval {

namespace {

// LIBSVM's problem over a dense [N, D] double matrix: every row as D nodes
// plus the terminator (index -1). The storage lives as long as the object.
struct Problem {
  std::vector<svm_node> nodes;
  std::vector<svm_node*> rows;
  std::vector<double> y;
  svm_problem p{};

  Problem(const torch::Tensor& x, const torch::Tensor& labels) {
    const auto a = x.accessor<double, 2>();
    const int64_t N = x.size(0), D = x.size(1);
    nodes.resize(static_cast<size_t>(N * (D + 1)));
    for (int64_t i = 0; i < N; ++i) {
      for (int64_t d = 0; d < D; ++d) nodes[i * (D + 1) + d] = {static_cast<int>(d + 1), a[i][d]};
      nodes[i * (D + 1) + D] = {-1, 0};
    }
    for (int64_t i = 0; i < N; ++i) rows.push_back(&nodes[i * (D + 1)]);
    if (labels.defined()) {
      const auto l = labels.accessor<int64_t, 1>();
      for (int64_t i = 0; i < N; ++i) y.push_back(static_cast<double>(l[i]));
    }
    p.l = static_cast<int>(N);
    p.y = y.data();
    p.x = rows.data();
  }
};

svm_parameter parameters(double c, double gamma) {
  svm_parameter p{};
  p.svm_type = C_SVC;
  p.kernel_type = RBF;
  p.degree = 3;
  p.gamma = gamma;
  p.coef0 = 0;
  p.cache_size = 200;  // MB, as svm-train
  p.eps = 1e-3;        // as svm-train and scikit-learn
  p.C = c;
  p.nr_weight = 0;
  p.nu = 0.5;
  p.p = 0.1;
  p.shrinking = 1;
  p.probability = 0;
  return p;
}

void quiet(const char*) {}

torch::Tensor as_double(const torch::Tensor& t) { return t.to(torch::kCPU, torch::kDouble).contiguous(); }

}  // namespace

double scale_gamma(const torch::Tensor& features) {
  const auto x = as_double(features);
  const double var = x.var(/*unbiased=*/false).item<double>();
  return var > 0 ? 1.0 / (static_cast<double>(x.size(1)) * var) : 1.0;
}

std::vector<int64_t> stratified_folds(const torch::Tensor& labels, int64_t folds, uint64_t seed) {
  if (folds < 2) throw std::invalid_argument("cross-validation needs at least 2 folds, got " + std::to_string(folds));
  const auto y = labels.to(torch::kCPU, torch::kLong).contiguous();
  const auto a = y.accessor<int64_t, 1>();
  const int64_t N = y.size(0);
  std::vector<int64_t> classes(a.data(), a.data() + N);
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  std::mt19937_64 rng(seed);
  std::vector<int64_t> fold(static_cast<size_t>(N), 0);
  int64_t next = 0;  // continue dealing where the last class stopped: folds stay balanced in size
  for (int64_t c : classes) {
    std::vector<int64_t> members;
    for (int64_t i = 0; i < N; ++i)
      if (a[i] == c) members.push_back(i);
    std::shuffle(members.begin(), members.end(), rng);
    for (int64_t i : members) fold[static_cast<size_t>(i)] = next++ % folds;
  }
  return fold;
}

torch::Tensor svm_fit_predict(const torch::Tensor& features, const torch::Tensor& labels, const torch::Tensor& query,
                              double c, double gamma) {
  svm_set_print_string_function(quiet);
  Problem train(as_double(features), labels.to(torch::kCPU, torch::kLong).contiguous());
  const auto param = parameters(c, gamma);
  if (const char* err = svm_check_parameter(&train.p, &param)) throw std::invalid_argument(std::string("SVM: ") + err);
  std::unique_ptr<svm_model, void (*)(svm_model*)> model(svm_train(&train.p, &param),
                                                           [](svm_model* m) { svm_free_and_destroy_model(&m); });
  Problem test(as_double(query), torch::Tensor());
  auto out = torch::empty({query.size(0)}, torch::kLong);
  auto o = out.accessor<int64_t, 1>();
  for (int64_t i = 0; i < query.size(0); ++i) o[i] = static_cast<int64_t>(svm_predict(model.get(), test.rows[i]));
  return out;
}

torch::Tensor SvmProbe::predict(const torch::Tensor& query) const {
  return svm_fit_predict(support_features, support_labels, query, c, gamma);
}

SvmProbe fit_svm_probe(const torch::Tensor& features, const torch::Tensor& labels, const SvmProbeOptions& o) {
  if (features.dim() != 2 || labels.dim() != 1 || features.size(0) != labels.size(0) || features.size(0) < 2) {
    throw std::invalid_argument("SVM probe: expected features [N, D] and N labels, N >= 2");
  }
  if (o.c_grid.empty()) throw std::invalid_argument("SVM probe: the grid of C is empty");
  SvmProbe probe;
  probe.support_features = as_double(features);
  probe.support_labels = labels.to(torch::kCPU, torch::kLong).contiguous();
  probe.gamma = o.gamma > 0 ? o.gamma : scale_gamma(probe.support_features);
  const int64_t N = features.size(0);
  const auto counts = torch::bincount(probe.support_labels);
  const int64_t smallest = counts.masked_select(counts > 0).min().item<int64_t>();
  const int64_t folds = std::min<int64_t>(o.folds, smallest);
  if (N < o.min_series_for_cv || smallest < o.min_per_class_for_cv || folds < 2) {
    probe.c = *std::max_element(o.c_grid.begin(), o.c_grid.end());  // hard margin
    return probe;
  }
  const auto fold = stratified_folds(probe.support_labels, folds, o.seed);
  double best = -1;
  for (double c : o.c_grid) {
    double total = 0;
    for (int64_t f = 0; f < folds; ++f) {
      std::vector<int64_t> tr, va;
      for (int64_t i = 0; i < N; ++i) (fold[static_cast<size_t>(i)] == f ? va : tr).push_back(i);
      const auto itr = torch::tensor(tr, torch::kLong), iva = torch::tensor(va, torch::kLong);
      const auto pred = svm_fit_predict(probe.support_features.index_select(0, itr),
                                        probe.support_labels.index_select(0, itr),
                                        probe.support_features.index_select(0, iva), c, probe.gamma);
      total += pred.eq(probe.support_labels.index_select(0, iva)).to(torch::kDouble).mean().item<double>();
    }
    const double mean = total / static_cast<double>(folds);
    probe.cv_scores.emplace_back(c, mean);
    if (mean > best + 1e-12) {  // ties keep the smaller C (the wider margin)
      best = mean;
      probe.c = c;
    }
  }
  probe.cv_accuracy = best;
  return probe;
}

}  // namespace leaves::eval
