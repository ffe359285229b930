#include "leaves/augment/magnitude_warp.h"

#include "testing.h"

using namespace leaves::augment;

TEST(MagnitudeWarp, MultipliesBySmoothCurveThroughTheKnots) {
  torch::manual_seed(4);
  for (auto mode : {Interpolation::Linear, Interpolation::Cubic}) {
    MagnitudeWarp m(MagnitudeWarpOptions().eta(0.5).knots(4).interpolation(mode));
    auto x = torch::ones({2, 3, 31}, torch::kDouble);
    m->to(torch::kDouble);
    auto eps = m->sample_noise(x);
    EXPECT_EQ(eps.sizes(), (std::vector<int64_t>{2, 3, 4}));
    auto y = m->transform(x, eps);
    // On a constant signal the view is the curve itself; at the knots (t = 0,
    // 10, 20, 30) it equals 1 + sigma * eps.
    auto knots = 1 + m->sigma() * eps;
    for (int64_t j = 0; j < 4; ++j) {
      EXPECT_TRUE(torch::allclose(y.select(2, j * 10), knots.select(2, j)));
    }
  }
}

TEST(MagnitudeWarp, ShapesForManyChannelsAndOddLengths) {
  MagnitudeWarp m(MagnitudeWarpOptions().knots(8));
  for (int64_t C : {1, 12, 52}) {
    auto x = torch::randn({2, C, 999});
    EXPECT_EQ(m(x).sizes(), x.sizes());
  }
  EXPECT_EQ(m(torch::randn({1, 1, 1})).sizes(), (std::vector<int64_t>{1, 1, 1}));
}

TEST(MagnitudeWarp, GradientsMatchFiniteDifferences) {
  torch::manual_seed(5);
  MagnitudeWarp m;
  m->to(torch::kDouble);
  auto x = leaves::testing::smooth_signal(2, 2, 15).requires_grad_();
  auto eps = m->sample_noise(x);
  leaves::testing::expect_gradients_match([&] { return m->transform(x, eps); }, {x, m->raw}, {"x", "raw"});
}

TEST(MagnitudeWarp, SigmaBoundedAndBadOptionsThrow) {
  MagnitudeWarp m(MagnitudeWarpOptions().eta(0.05));
  {
    torch::NoGradGuard g;
    m->raw.fill_(1000);
  }
  EXPECT_LE(m->sigma().item<double>(), double(0.05f));
  EXPECT_THROW(MagnitudeWarp(MagnitudeWarpOptions().knots(1)), std::invalid_argument);
  EXPECT_THROW(MagnitudeWarp(MagnitudeWarpOptions().eta(-0.1)), std::invalid_argument);
}
