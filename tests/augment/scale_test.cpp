#include "leaves/augment/scale.h"

#include "testing.h"

using namespace leaves::augment;

TEST(Scale, OneFactorPerSampleAndChannel) {
  Scale s(ScaleOptions().eta(0.5));
  for (int64_t C : {1, 12, 52}) {
    auto x = torch::ones({3, C, 37});
    auto y = s(x);
    ASSERT_EQ(y.sizes(), x.sizes());
    // Constant along time, different across channels/samples.
    EXPECT_TRUE(torch::allclose(y, y.select(2, 0).unsqueeze(2).expand_as(y)));
    if (C > 1) {
      EXPECT_GT(y.select(2, 0).std().item<double>(), 0.0);
    }
  }
}

TEST(Scale, SigmaStaysInsideZeroEta) {
  Scale s(ScaleOptions().eta(0.05));
  torch::NoGradGuard g;
  for (double r : {-100.0, 0.0, 100.0}) {
    s->raw.fill_(r);
    EXPECT_GE(s->sigma().item<double>(), 0.0);
    EXPECT_LE(s->sigma().item<double>(), double(0.05f));
  }
}

TEST(Scale, GradientsMatchFiniteDifferences) {
  torch::manual_seed(3);
  Scale s;
  s->to(torch::kDouble);
  auto x = leaves::testing::smooth_signal(3, 2, 9).requires_grad_();
  auto eps = s->sample_noise(x);
  EXPECT_EQ(eps.sizes(), (std::vector<int64_t>{3, 2, 1}));
  leaves::testing::expect_gradients_match([&] { return s->transform(x, eps); }, {x, s->raw}, {"x", "raw"});
}

TEST(Scale, BadOptionsThrow) {
  EXPECT_THROW(Scale(ScaleOptions().eta(0)), std::invalid_argument);
  Scale s;
  EXPECT_THROW(s(torch::zeros({10})), std::invalid_argument);
}
