#include "leaves/eval/linear_probe.h"

#include "testing.h"

using namespace leaves::eval;

TEST(LinearProbe, SeparatesLinearlySeparableClasses) {
  torch::manual_seed(26);
  const int64_t N = 300;
  auto y = torch::arange(N) % 3;
  auto centres = torch::tensor({{3.0f, 0.0f, 0.0f}, {0.0f, 3.0f, 0.0f}, {0.0f, 0.0f, 3.0f}});
  auto x = centres.index_select(0, y) + 0.5 * torch::randn({N, 3});
  auto probe = fit_linear_probe(x, y);
  EXPECT_GT(probe.accuracy(x, y), 0.97);
  EXPECT_EQ(probe.predict(x).sizes(), (std::vector<int64_t>{N}));
  // Chance on shuffled labels, measured on held-out points.
  auto yp = y.index_select(0, torch::randperm(N));
  auto shuffled = fit_linear_probe(x.narrow(0, 0, 150), yp.narrow(0, 0, 150));
  EXPECT_LT(shuffled.accuracy(x.narrow(0, 150, 150), yp.narrow(0, 150, 150)), 0.6);
}

TEST(LinearProbe, EmbedRunsTheEncoderInEvalModeInBatches) {
  leaves::nn::ResNet1d enc(leaves::nn::ResNet1dOptions(2).width(4));
  auto x = torch::randn({10, 2, 33});
  auto a = embed(enc, x, 3);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{10, 32}));
  EXPECT_TRUE(enc->is_training());
  EXPECT_TRUE(torch::allclose(a, embed(enc, x, 10), 1e-5, 1e-6));  // batch-independent (eval BN)
}

TEST(LinearProbe, BadInputsThrow) {
  EXPECT_THROW(fit_linear_probe(torch::randn({5, 2}), torch::zeros({4}, torch::kLong)), std::invalid_argument);
  EXPECT_THROW(fit_linear_probe(torch::randn({5}), torch::zeros({5}, torch::kLong)), std::invalid_argument);
}
