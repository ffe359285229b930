#include "leaves/eval/svm_probe.h"

#include <cstdio>
#include <fstream>
#include <set>

#include "testing.h"

namespace fs = std::filesystem;
using namespace leaves::eval;

namespace {

// Two overlapping Gaussian classes in D dimensions (class 1 shifted by `shift`).
std::pair<torch::Tensor, torch::Tensor> blobs(int64_t n, int64_t D, double shift, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto x = torch::randn({n, D}, gen, torch::TensorOptions().dtype(torch::kDouble));
  auto y = torch::arange(n, torch::kLong).remainder(2);
  x.index_put_({y == 1}, x.index({y == 1}) + shift);
  return {x, y};
}

void write_libsvm(const fs::path& file, const torch::Tensor& x, const torch::Tensor& y) {
  std::ofstream f(file);
  char buf[64];
  for (int64_t i = 0; i < x.size(0); ++i) {
    f << y[i].item<int64_t>();
    for (int64_t d = 0; d < x.size(1); ++d) {
      std::snprintf(buf, sizeof buf, " %lld:%.17g", static_cast<long long>(d + 1), x[i][d].item<double>());
      f << buf;
    }
    f << "\n";
  }
}

}  // namespace

TEST(SvmProbe, StratifiedFoldsAreBalancedAndSeeded) {
  auto y = torch::cat({torch::zeros({23}, torch::kLong), torch::ones({12}, torch::kLong), torch::full({5}, 2, torch::kLong)});
  const auto a = stratified_folds(y, 5, 7), b = stratified_folds(y, 5, 7), c = stratified_folds(y, 5, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (int64_t cls = 0; cls < 3; ++cls) {
    std::vector<int64_t> per_fold(5, 0);
    for (int64_t i = 0; i < y.size(0); ++i)
      if (y[i].item<int64_t>() == cls) ++per_fold[a[i]];
    EXPECT_LE(*std::max_element(per_fold.begin(), per_fold.end()) - *std::min_element(per_fold.begin(), per_fold.end()), 1)
        << "class " << cls;
  }
  std::vector<int64_t> sizes(5, 0);
  for (auto f : a) ++sizes[f];
  EXPECT_LE(*std::max_element(sizes.begin(), sizes.end()) - *std::min_element(sizes.begin(), sizes.end()), 1);
  EXPECT_THROW(stratified_folds(y, 1, 0), std::invalid_argument);
}

TEST(SvmProbe, PredictionsEqualLibsvmsOwnTools) {
  if (std::system("command -v svm-train >/dev/null 2>&1 && command -v svm-predict >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "svm-train / svm-predict (Debian libsvm-tools) not installed";
  }
  auto d = leaves::testing::temp_dir("svm");
  fs::create_directories(d);
  auto [x, y] = blobs(120, 6, 1.2, 3);
  auto [q, qy] = blobs(80, 6, 1.2, 4);
  write_libsvm(d / "train", x, y);
  write_libsvm(d / "test", q, qy);
  for (double c : {0.1, 1.0, 100.0}) {
    const double gamma = scale_gamma(x);
    char cmd[1024];
    std::snprintf(cmd, sizeof cmd, "svm-train -q -s 0 -t 2 -g %.17g -c %.17g %s %s && svm-predict -q %s %s %s", gamma,
                  c, (d / "train").c_str(), (d / "model").c_str(), (d / "test").c_str(), (d / "model").c_str(),
                  (d / "pred").c_str());
    ASSERT_EQ(std::system(cmd), 0) << cmd;
    std::ifstream in(d / "pred");
    const auto ours = svm_fit_predict(x, y, q, c, gamma);
    for (int64_t i = 0; i < q.size(0); ++i) {
      double theirs = -1;
      in >> theirs;
      ASSERT_EQ(ours[i].item<int64_t>(), static_cast<int64_t>(theirs)) << "C " << c << ", sample " << i;
    }
  }
  fs::remove_all(d);
}

TEST(SvmProbe, CrossValidationChoosesCAndSeparatesSeparableClasses) {
  auto [x, y] = blobs(100, 4, 6.0, 1);
  auto [q, qy] = blobs(60, 4, 6.0, 2);
  const auto probe = fit_svm_probe(x, y);
  EXPECT_EQ(probe.cv_scores.size(), SvmProbeOptions().c_grid.size());
  EXPECT_GT(probe.cv_accuracy, 0.95);
  EXPECT_NEAR(probe.gamma, scale_gamma(x), 1e-15);
  EXPECT_EQ(probe.predict(q).eq(qy).sum().item<int64_t>(), 60);
  // Too few series to cross-validate: the hard margin, as T-Loss.
  auto [sx, sy] = blobs(12, 4, 6.0, 5);
  const auto small = fit_svm_probe(sx, sy);
  EXPECT_LT(small.cv_accuracy, 0);
  EXPECT_EQ(small.c, 1e6);
  EXPECT_THROW(fit_svm_probe(torch::zeros({3, 2}), torch::zeros({2}, torch::kLong)), std::invalid_argument);
}
