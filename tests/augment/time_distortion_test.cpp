#include "leaves/augment/time_distortion.h"

#include "testing.h"

using namespace leaves::augment;

TEST(TimeDistortion, EvenlySpacedLocationsReturnTheInput) {
  // Convention: lambda = -1 is the first sample and +1 the last (align_corners).
  auto x = leaves::testing::smooth_signal(3, 4, 101);
  auto lambda = torch::linspace(-1, 1, 101, torch::kDouble).view({1, 1, 101}).expand({3, 1, 101});
  EXPECT_TRUE(torch::allclose(time_distort(x, lambda), x, 1e-12, 1e-12));
  auto xf = x.to(torch::kFloat);
  EXPECT_TRUE(torch::allclose(time_distort(xf, lambda.to(torch::kFloat)), xf, 1e-5, 1e-5));
}

TEST(TimeDistortion, WarpsAreMonotoneSoMonotoneInputsStayMonotone) {
  torch::manual_seed(13);
  TimeDistortion td(TimeDistortionOptions().components(7));
  auto ramp = torch::cumsum(torch::rand({4, 3, 500}), 2);  // strictly increasing
  auto noise = td->sample_noise(ramp);
  auto lambda = td->locations(noise);
  EXPECT_GE(lambda.min().item<double>(), -1.0);
  EXPECT_LE(lambda.max().item<double>(), 1.0);
  EXPECT_GE((lambda.slice(2, 1) - lambda.slice(2, 0, -1)).min().item<double>(), 0.0);
  auto y = td->transform(ramp, noise);
  EXPECT_GE((y.slice(2, 1) - y.slice(2, 0, -1)).min().item<double>(), 0.0);
}

TEST(TimeDistortion, SamplesFollowTheMixture) {
  // Kolmogorov-Smirnov distance between the sorted draws and the mixture CDF.
  torch::manual_seed(14);
  for (auto sampling : {TimeDistortionSampling::Ancestral, TimeDistortionSampling::InverseCdf}) {
    TimeDistortion td(TimeDistortionOptions().components(3).sampling(sampling));
    {
      torch::NoGradGuard g;
      td->logits.copy_(torch::tensor({0.0f, 1.0f, -1.0f}));
      td->mu.copy_(torch::tensor({-1.0f, 0.2f, 1.5f}));
      td->rho.copy_(torch::tensor({-1.0f, 0.0f, -2.0f}));
    }
    torch::NoGradGuard g;
    const int64_t L = 4000;
    auto lambda = td->locations(td->sample_noise(torch::zeros({1, 1, L})));
    auto F = mixture_cdf(torch::atanh(lambda.clamp(-1 + 1e-7, 1 - 1e-7)), td->weights(), td->means(), td->scales());
    auto ecdf = (torch::arange(L, torch::kFloat) + 0.5) / L;
    EXPECT_LT((F.flatten() - ecdf).abs().max().item<double>(), 0.04) << to_string(sampling);
  }
}

TEST(TimeDistortion, PdfIsTheDerivativeOfTheCdf) {
  auto w = torch::tensor({0.2, 0.5, 0.3}, torch::kDouble);
  auto m = torch::tensor({-1.0, 0.0, 2.0}, torch::kDouble);
  auto s = torch::tensor({0.5, 1.0, 0.3}, torch::kDouble);
  auto z = torch::linspace(-3, 3, 61, torch::kDouble);
  const double h = 1e-6;
  auto fd = (mixture_cdf(z + h, w, m, s) - mixture_cdf(z - h, w, m, s)) / (2 * h);
  EXPECT_TRUE(torch::allclose(mixture_pdf(z, w, m, s), fd, 1e-6, 1e-8));
}

TEST(TimeDistortion, GradientsOfWeightsMeansScalesAndInputMatchFiniteDifferences) {
  // With the uniforms behind each draw held fixed, z = F^{-1}(u; theta) is a
  // smooth function of theta, and the implicit-reparameterisation gradient
  // must equal its finite differences.
  torch::manual_seed(15);
  TimeDistortion td(TimeDistortionOptions().components(4).sampling(TimeDistortionSampling::InverseCdf));
  td->to(torch::kDouble);
  {
    torch::NoGradGuard g;
    td->logits.copy_(torch::tensor({0.3, -0.2, 0.1, 0.5}));
  }
  auto x = leaves::testing::smooth_signal(2, 2, 40).requires_grad_();
  auto noise = td->sample_noise(x);
  leaves::testing::expect_gradients_match([&] { return td->transform(x, noise); }, {x, td->logits, td->mu, td->rho},
                                          {"x", "logits", "mu", "rho"}, 1e-6, 2e-4, 1e-6);
}

TEST(TimeDistortion, AncestralSamplingGivesTheSameGradientAsTheQuantileMap) {
  // For the same draw z, both samplers attach dz/dtheta = -dF/dtheta / p.
  torch::manual_seed(16);
  TimeDistortion a(TimeDistortionOptions().components(3));
  TimeDistortion q(TimeDistortionOptions().components(3).sampling(TimeDistortionSampling::InverseCdf));
  a->to(torch::kDouble);
  q->to(torch::kDouble);
  auto noise = a->sample_noise(torch::zeros({1, 1, 50}, torch::kDouble));
  auto la = a->locations(noise);
  TimeDistortionNoise qn;
  {
    torch::NoGradGuard g;
    auto z = torch::atanh(la.detach());
    qn.quantile_u = mixture_cdf(z, a->weights(), a->means(), a->scales());
  }
  auto lq = q->locations(qn);
  EXPECT_TRUE(torch::allclose(la, lq, 1e-9, 1e-9));
  auto w = torch::randn_like(la);
  (la * w).sum().backward();
  (lq * w).sum().backward();
  EXPECT_TRUE(torch::allclose(a->mu.grad(), q->mu.grad(), 1e-6, 1e-9));
  EXPECT_TRUE(torch::allclose(a->rho.grad(), q->rho.grad(), 1e-6, 1e-9));
  EXPECT_TRUE(torch::allclose(a->logits.grad(), q->logits.grad(), 1e-6, 1e-9));
}

TEST(TimeDistortion, SharedClockByDefaultOneWarpPerChannelAsOption) {
  torch::manual_seed(17);
  auto base = torch::cumsum(torch::rand({2, 1, 300}), 2);
  auto x = base.expand({2, 12, 300}).contiguous();
  TimeDistortion shared, per(TimeDistortionOptions().per_channel(true));
  auto ys = shared(x);
  EXPECT_TRUE(torch::equal(ys, ys.narrow(1, 0, 1).expand_as(ys)));
  auto yp = per(x);
  EXPECT_FALSE(torch::equal(yp, yp.narrow(1, 0, 1).expand_as(yp)));
  for (int64_t C : {1, 12, 52}) EXPECT_EQ(per(torch::randn({2, C, 77})).sizes(), (std::vector<int64_t>{2, C, 77}));
}

TEST(TimeDistortion, EveryMixtureParameterReceivesAGradient) {
  torch::manual_seed(18);
  TimeDistortion td(TimeDistortionOptions().components(6));
  auto x = torch::randn({8, 1, 200});
  td(x).pow(2).sum().backward();
  for (const auto& p : td->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0);
  }
}

TEST(TimeDistortion, BadOptionsThrow) {
  EXPECT_THROW(TimeDistortion(TimeDistortionOptions().components(0)), std::invalid_argument);
  EXPECT_THROW(parse_time_distortion_sampling("gibbs"), std::invalid_argument);
  TimeDistortion td;
  EXPECT_THROW(td(torch::zeros({2, 100})), std::invalid_argument);
}
