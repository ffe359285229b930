#include "leaves/augment/jitter.h"

#include "testing.h"

using namespace leaves::augment;

TEST(Jitter, ShapesDtypesAndFreshNoise) {
  Jitter j;
  for (int64_t C : {1, 12, 52}) {
    auto x = torch::randn({3, C, 101});
    auto a = j(x), b = j(x);
    EXPECT_EQ(a.sizes(), x.sizes());
    EXPECT_EQ(a.device(), x.device());
    EXPECT_EQ(a.scalar_type(), x.scalar_type());
    EXPECT_FALSE(torch::equal(a, b)) << "each call must draw fresh noise";
  }
}

TEST(Jitter, NoiseHasTheLearnedStandardDeviation) {
  torch::manual_seed(0);
  Jitter j(JitterOptions().eta(0.2).init(0.25));
  EXPECT_NEAR(j->sigma().item<double>(), 0.05, 1e-6);
  auto x = torch::zeros({64, 4, 1001});
  EXPECT_NEAR(j(x).std().item<double>(), 0.05, 1e-3);
}

TEST(Jitter, SigmaStaysInsideZeroEta) {
  Jitter j(JitterOptions().eta(0.05));
  torch::NoGradGuard g;
  for (double r : {-100.0, -5.0, 0.0, 5.0, 100.0}) {
    j->raw.fill_(r);
    const double s = j->sigma().item<double>();
    EXPECT_GE(s, 0.0);
    EXPECT_LE(s, double(0.05f));  // eta rounded to float32
  }
}

TEST(Jitter, GradientsMatchFiniteDifferences) {
  torch::manual_seed(2);
  Jitter j;
  j->to(torch::kDouble);
  auto x = leaves::testing::smooth_signal(2, 3, 11).requires_grad_();
  auto eps = j->sample_noise(x);
  leaves::testing::expect_gradients_match([&] { return j->transform(x, eps); }, {x, j->raw}, {"x", "raw"});
}

TEST(Jitter, ReproducibleForASeed) {
  Jitter j;
  auto x = torch::randn({2, 3, 50});
  torch::manual_seed(7);
  auto a = j(x);
  torch::manual_seed(7);
  EXPECT_TRUE(torch::equal(a, j(x)));
}

TEST(Jitter, BadOptionsAndInputsThrow) {
  EXPECT_THROW(Jitter(JitterOptions().eta(0)), std::invalid_argument);
  EXPECT_THROW(Jitter(JitterOptions().eta(-1)), std::invalid_argument);
  EXPECT_THROW(Jitter(JitterOptions().init(1.0)), std::invalid_argument);
  Jitter j;
  EXPECT_THROW(j(torch::zeros({4, 10})), std::invalid_argument);
}
