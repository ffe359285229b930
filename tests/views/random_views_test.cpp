#include "leaves/views/random_views.h"

#include "testing.h"

using namespace leaves::views;

TEST(RandomViews, NoLearnableParametersAndFixedIntensity) {
  RandomViews r(RandomViewsOptions().sigma(0.02));
  EXPECT_TRUE(r->parameters().empty());
  EXPECT_FALSE(r->learnable());
  auto rep = named_report(*r);
  EXPECT_EQ(rep[0].first, "sigma");
  EXPECT_DOUBLE_EQ(rep[0].second, 0.02);
}

TEST(RandomViews, ShapesAndFreshRandomness) {
  RandomViews r;
  for (int64_t C : {1, 12, 52}) {
    auto x = torch::randn({3, C, 101});
    auto a = r(x);
    EXPECT_EQ(a.sizes(), x.sizes());
    EXPECT_FALSE(torch::equal(a, r(x)));
  }
}

TEST(RandomViews, ZeroSigmaAndOneSegmentIsTheIdentity) {
  RandomViews r(RandomViewsOptions().sigma(0).max_segments(1));
  auto x = torch::randn({2, 3, 50});
  EXPECT_TRUE(torch::allclose(r(x), x, 1e-5, 1e-4));  // float32 rounding of the warp
}

TEST(RandomViews, DifferentiableInTheInput) {
  RandomViews r;
  auto x = torch::randn({2, 1, 40}, torch::requires_grad());
  r(x).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
}

TEST(RandomViews, BadOptionsThrow) {
  EXPECT_THROW(RandomViews(RandomViewsOptions().sigma(-1)), std::invalid_argument);
  EXPECT_THROW(RandomViews(RandomViewsOptions().max_segments(0)), std::invalid_argument);
}
