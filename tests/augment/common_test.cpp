#include "leaves/augment/common.h"

#include "testing.h"

using namespace leaves::augment;

TEST(CheckSeries, RejectsWrongRankAndDtype) {
  EXPECT_THROW(check_series(torch::zeros({4, 10}), "T"), std::invalid_argument);
  EXPECT_THROW(check_series(torch::zeros({4, 1, 10}, torch::kLong), "T"), std::invalid_argument);
  EXPECT_THROW(check_series(torch::zeros({0, 1, 10}), "T"), std::invalid_argument);
  EXPECT_NO_THROW(check_series(torch::zeros({1, 1, 1}), "T"));
  try {
    check_series(torch::zeros({4, 10}), "Jitter");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Jitter"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[B, C, L]"), std::string::npos);
  }
}

TEST(Bounded, InitInvertsAndStaysInside) {
  const double raw = bounded_init(0.3, 0.0, 0.05 * 10);
  EXPECT_NEAR(bounded(torch::full({}, raw, torch::kDouble), 0.0, 0.5).item<double>(), 0.3, 1e-12);
  EXPECT_THROW(bounded_init(0.0, 0.0, 1.0), std::invalid_argument);
  auto extreme = bounded(torch::tensor({-80.0, 80.0}), 0.0, 0.05);
  EXPECT_GE(extreme[0].item<double>(), 0.0);
  EXPECT_LE(extreme[1].item<double>(), double(0.05f));  // eta rounded to float32
}

TEST(InterpolationBasis, InterpolatesAtKnotsAndPreservesLines) {
  for (auto mode : {Interpolation::Linear, Interpolation::Cubic}) {
    const int64_t k = 4, L = 31;  // knots at t = 0, 10, 20, 30
    auto W = interpolation_basis(k, L, mode);
    ASSERT_EQ(W.sizes(), (std::vector<int64_t>{k, L}));
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t i = 0; i < k; ++i) EXPECT_NEAR(W[i][j * 10].item<double>(), i == j ? 1.0 : 0.0, 1e-12);
    }
    // Both interpolants reproduce constants and straight lines exactly.
    EXPECT_TRUE(torch::allclose(W.sum(0), torch::ones({L}, torch::kDouble)));
    auto line = torch::tensor({0.0, 1.0, 2.0, 3.0}, torch::kDouble).matmul(W);
    EXPECT_TRUE(torch::allclose(line, torch::arange(L, torch::kDouble) / 10.0));
  }
}

TEST(InterpolationBasis, CubicIsSmootherThanLinear) {
  auto knots = torch::tensor({1.0, 1.2, 0.8, 1.1, 0.9}, torch::kDouble);
  auto curvature = [&](Interpolation m) {
    auto c = knots.matmul(interpolation_basis(5, 101, m));
    auto d1 = c.slice(0, 1) - c.slice(0, 0, -1);
    return (d1.slice(0, 1) - d1.slice(0, 0, -1)).abs().max().item<double>();
  };
  EXPECT_LT(curvature(Interpolation::Cubic), curvature(Interpolation::Linear));
  EXPECT_EQ(parse_interpolation("cubic"), Interpolation::Cubic);
  EXPECT_THROW(parse_interpolation("spline"), std::invalid_argument);
}

TEST(ResampleLinear, IdentityAtIntegerPositionsAndMidpoints) {
  auto x = leaves::testing::smooth_signal(2, 3, 17);
  auto pos = torch::arange(17, torch::kDouble).view({1, 1, 17}).expand({2, 1, 17});
  EXPECT_TRUE(torch::equal(resample_linear(x, pos), x));
  auto mid = (pos.slice(2, 0, 16) + 0.5);
  auto expect = 0.5 * (x.slice(2, 0, 16) + x.slice(2, 1, 17));
  EXPECT_TRUE(torch::allclose(resample_linear(x, mid), expect));
  EXPECT_THROW(resample_linear(x, torch::zeros({3, 1, 17}, torch::kDouble)), std::invalid_argument);
}

TEST(ResampleLinear, GradientsMatchFiniteDifferences) {
  torch::manual_seed(1);
  auto x = leaves::testing::smooth_signal(2, 2, 13).requires_grad_();
  auto pos = (torch::rand({2, 2, 9}, torch::kDouble) * 11.8 + 0.1).requires_grad_();
  leaves::testing::expect_gradients_match([&] { return resample_linear(x, pos); }, {x, pos}, {"x", "pos"});
}
