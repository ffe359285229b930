#include "leaves/views/leaves.h"

#include "testing.h"

using namespace leaves::views;
using leaves::augment::TimeDistortionSampling;

TEST(Leaves, ShapesDevicesAndFreshRandomness) {
  Leaves g;
  for (int64_t C : {1, 12, 52}) {
    for (int64_t L : {1, 7, 301}) {
      auto x = torch::randn({3, C, L});
      auto a = g(x);
      EXPECT_EQ(a.sizes(), x.sizes());
      EXPECT_EQ(a.device(), x.device());
      EXPECT_EQ(a.scalar_type(), x.scalar_type());
      if (L > 1) EXPECT_FALSE(torch::equal(a, g(x)));
    }
  }
}

TEST(Leaves, AboutTwentyNamedParameters) {
  Leaves g(LeavesOptions().mixture_components(5));
  int64_t n = 0;
  for (const auto& p : g->parameters()) n += p.numel();
  EXPECT_EQ(n, 4 + 3 * 5);
  auto names = g->report_names();
  ASSERT_EQ(static_cast<int64_t>(names.size()), g->report().numel());
  EXPECT_EQ(names[0], "jitter_sigma");
  EXPECT_EQ(names[3], "perm_max_segments");
  EXPECT_EQ(names.back(), "mixture_scale_4");
  auto rep = named_report(*g);
  EXPECT_NEAR(rep[0].second, 0.025, 1e-6);  // eta * 0.5 initially
  EXPECT_NEAR(rep[3].second, 3.0, 1e-6);    // halfway from 1 to K = 5
}

TEST(Leaves, IntensitiesStayInsideZeroEtaUnderAnyParameterValues) {
  Leaves g(LeavesOptions().eta(0.05));
  torch::NoGradGuard no_grad;
  for (double r : {-1e4, -10.0, 0.0, 10.0, 1e4}) {
    for (auto& p : g->parameters()) p.fill_(r);
    auto rep = g->report();
    for (int i = 0; i < 3; ++i) {
      // Strictly positive wherever sigmoid(raw) is representable; 0 only once
      // float32 underflows (|raw| > ~88, far beyond what training reaches).
      if (std::abs(r) <= 10) EXPECT_GT(rep[i].item<double>(), 0.0);
      EXPECT_GE(rep[i].item<double>(), 0.0);
      EXPECT_LE(rep[i].item<double>(), double(0.05f));  // eta in float32
    }
    EXPECT_GE(rep[3].item<double>(), 1.0);
    EXPECT_LE(rep[3].item<double>(), 5.0);
  }
}

TEST(Leaves, GradientsOfEveryContinuousParameterAndTheInputMatchFiniteDifferences) {
  torch::manual_seed(19);
  Leaves g(LeavesOptions().mixture_components(3).sampling(TimeDistortionSampling::InverseCdf));
  g->to(torch::kDouble);
  auto x = leaves::testing::smooth_signal(2, 2, 30).requires_grad_();
  auto noise = g->sample_noise(x);
  std::vector<torch::Tensor> wrt{x};
  std::vector<std::string> names{"x"};
  for (const auto& p : g->named_parameters()) {
    if (p.key().rfind("permutation", 0) == 0) continue;  // discrete count: estimator tested separately
    wrt.push_back(p.value());
    names.push_back(p.key());
  }
  EXPECT_EQ(wrt.size(), 1u + 3u + 3u);
  leaves::testing::expect_gradients_match([&] { return g->transform(x, noise); }, wrt, names, 1e-6, 2e-4, 1e-6);
}

TEST(Leaves, PermutationCountReceivesAFiniteNonZeroGradient) {
  torch::manual_seed(20);
  Leaves g;
  auto x = torch::cumsum(torch::randn({32, 1, 128}), 2);
  (g(x) - x).pow(2).mean().backward();
  auto grad = g->permutation->raw.grad();
  ASSERT_TRUE(grad.defined());
  EXPECT_TRUE(std::isfinite(grad.item<double>()));
  EXPECT_NE(grad.item<double>(), 0.0);
}

TEST(Leaves, ReproducibleForASeedOnCpu) {
  auto x = torch::randn({4, 3, 200});
  Leaves g;
  torch::manual_seed(21);
  auto a = g(x);
  torch::manual_seed(21);
  EXPECT_TRUE(torch::equal(a, g(x)));
}

TEST(Leaves, OptionalMinMaxNormalisation) {
  Leaves g(LeavesOptions().normalize(true));
  auto v = g(torch::randn({4, 3, 100}) * 5 + 2);
  EXPECT_NEAR(std::get<0>(v.min(2)).abs().max().item<double>(), 0.0, 1e-6);
  EXPECT_NEAR((std::get<0>(v.max(2)) - 1).abs().max().item<double>(), 0.0, 1e-5);
}

TEST(Leaves, BadOptionsAndInputsThrowClearErrors) {
  EXPECT_THROW(Leaves(LeavesOptions().eta(0)), std::invalid_argument);
  EXPECT_THROW(Leaves(LeavesOptions().eta(-0.1)), std::invalid_argument);
  EXPECT_THROW(Leaves(LeavesOptions().max_segments(0)), std::invalid_argument);
  EXPECT_THROW(Leaves(LeavesOptions().mixture_components(0)), std::invalid_argument);
  Leaves g;
  try {
    g(torch::zeros({8, 100}));
    FAIL() << "a 2-D input must throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("LEAVES"), std::string::npos);
  }
}
