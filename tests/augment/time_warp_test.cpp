#include "leaves/augment/time_warp.h"

#include "testing.h"

using namespace leaves::augment;

TEST(TimeWarp, PositionsAreMonotoneAndSpanTheSeries) {
  torch::manual_seed(6);
  auto W = interpolation_basis(4, 200, Interpolation::Linear);
  auto eps = torch::randn({8, 1, 4}, torch::kDouble) * 5;  // strong warps
  auto pos = time_warp_positions(torch::tensor(0.5, torch::kDouble), eps, W);
  auto d = pos.slice(2, 1) - pos.slice(2, 0, -1);
  EXPECT_GT(d.min().item<double>(), 0.0);
  EXPECT_NEAR(pos.select(2, 0).abs().max().item<double>(), 0.0, 1e-9);
  EXPECT_NEAR((pos.select(2, 199) - 199).abs().max().item<double>(), 0.0, 1e-9);
}

TEST(TimeWarp, ConstantSpeedIsTheIdentityAndMonotoneInputsStayMonotone) {
  TimeWarp tw(TimeWarpOptions().eta(1.0).knots(4));
  tw->to(torch::kDouble);
  auto x = leaves::testing::smooth_signal(2, 3, 41);
  auto zero = torch::zeros({2, 1, 4}, torch::kDouble);
  EXPECT_TRUE(torch::allclose(tw->transform(x, zero), x));
  auto ramp = torch::linspace(0, 1, 41, torch::kDouble).view({1, 1, 41}).expand({2, 3, 41}).contiguous();
  auto y = tw->transform(ramp, torch::randn({2, 1, 4}, torch::kDouble) * 3);
  EXPECT_GE((y.slice(2, 1) - y.slice(2, 0, -1)).min().item<double>(), 0.0);
}

TEST(TimeWarp, OneWarpPerSampleByDefaultPerChannelAsOption) {
  auto x = torch::randn({2, 12, 101});
  TimeWarp shared, per(TimeWarpOptions().per_channel(true));
  EXPECT_EQ(shared->sample_noise(x).size(1), 1);
  EXPECT_EQ(per->sample_noise(x).size(1), 12);
  for (int64_t C : {1, 12, 52}) EXPECT_EQ(per(torch::randn({2, C, 101})).sizes(), (std::vector<int64_t>{2, C, 101}));
}

TEST(TimeWarp, GradientsMatchFiniteDifferences) {
  torch::manual_seed(7);
  TimeWarp tw(TimeWarpOptions().eta(0.5));
  tw->to(torch::kDouble);
  auto x = leaves::testing::smooth_signal(2, 2, 21).requires_grad_();
  auto eps = tw->sample_noise(x);
  leaves::testing::expect_gradients_match([&] { return tw->transform(x, eps); }, {x, tw->raw}, {"x", "raw"});
}
