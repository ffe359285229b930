#include "leaves/data/synthetic.h"

#include "testing.h"

using namespace leaves::data;

TEST(SyntheticEcg, ShapesLabelsAndDeterminism) {
  auto o = SyntheticEcgOptions().size(20).channels(3).length(500).seed(4);
  auto a = make_synthetic_ecg(o), b = make_synthetic_ecg(o);
  EXPECT_EQ(a.x.sizes(), (std::vector<int64_t>{20, 3, 500}));
  EXPECT_EQ(a.y.sizes(), (std::vector<int64_t>{20}));
  EXPECT_TRUE(torch::equal(a.x, b.x));
  EXPECT_EQ(a.y.sum().item<int64_t>(), 10);  // balanced
  EXPECT_FALSE(torch::equal(a.x, make_synthetic_ecg(o.seed(5)).x));
  EXPECT_TRUE(torch::isfinite(a.x).all().item<bool>());
}

TEST(SyntheticEcg, ClassesDifferInRhythmRegularity) {
  // R peaks: local maxima above 0.5 mV; the irregular class has a larger
  // coefficient of variation of RR intervals.
  auto d = make_synthetic_ecg(SyntheticEcgOptions().size(40).length(3000).rate(100).noise(0.01).seed(1));
  double cv[2] = {0, 0};
  for (int64_t n = 0; n < 40; ++n) {
    auto s = d.x[n][0];
    auto a = s.accessor<float, 1>();
    std::vector<int64_t> peaks;
    for (int64_t t = 1; t + 1 < 3000; ++t)
      if (a[t] > 0.5 && a[t] >= a[t - 1] && a[t] > a[t + 1]) peaks.push_back(t);
    ASSERT_GT(peaks.size(), 20u);
    std::vector<double> rr;
    for (size_t i = 1; i < peaks.size(); ++i) rr.push_back(double(peaks[i] - peaks[i - 1]));
    auto r = torch::tensor(rr, torch::kDouble);
    cv[d.y[n].item<int64_t>()] += (r.std() / r.mean()).item<double>() / 20.0;
  }
  EXPECT_GT(cv[1], 2 * cv[0]);
}

TEST(SyntheticEcg, BadOptionsThrow) {
  EXPECT_THROW(make_synthetic_ecg(SyntheticEcgOptions().size(1)), std::invalid_argument);
  EXPECT_THROW(make_synthetic_ecg(SyntheticEcgOptions().length(1)), std::invalid_argument);
  EXPECT_THROW(make_synthetic_ecg(SyntheticEcgOptions().rate(5)), std::invalid_argument);
}
