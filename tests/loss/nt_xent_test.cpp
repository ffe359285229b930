#include "leaves/loss/nt_xent.h"

#include <cmath>

#include "testing.h"

using leaves::loss::nt_xent;

namespace {
// Eq. 2-3 written out term by term for a handful of 2-D embeddings.
double by_hand(const std::vector<std::array<double, 2>>& z1, const std::vector<std::array<double, 2>>& z2,
               double tau) {
  std::vector<std::array<double, 2>> z;
  for (const auto& v : z1) z.push_back(v);
  for (const auto& v : z2) z.push_back(v);
  const size_t n2 = z.size(), n = z1.size();
  auto cos = [&](size_t i, size_t j) {
    const double dot = z[i][0] * z[j][0] + z[i][1] * z[j][1];
    return dot / (std::hypot(z[i][0], z[i][1]) * std::hypot(z[j][0], z[j][1]));
  };
  auto ell = [&](size_t i, size_t j) {
    double den = 0;
    for (size_t k = 0; k < n2; ++k)
      if (k != i) den += std::exp(cos(i, k) / tau);
    return -std::log(std::exp(cos(i, j) / tau) / den);
  };
  double sum = 0;
  for (size_t k = 0; k < n; ++k) sum += ell(k, k + n) + ell(k + n, k);
  return sum / (2.0 * n);
}
}  // namespace

TEST(NtXent, EqualsTheHandComputedValueOnThreePairs) {
  std::vector<std::array<double, 2>> a{{1.0, 0.0}, {0.0, 2.0}, {1.0, 1.0}};
  std::vector<std::array<double, 2>> b{{0.9, 0.3}, {-0.2, 1.0}, {2.0, 1.5}};
  auto t1 = torch::tensor({1.0, 0.0, 0.0, 2.0, 1.0, 1.0}, torch::kDouble).view({3, 2});
  auto t2 = torch::tensor({0.9, 0.3, -0.2, 1.0, 2.0, 1.5}, torch::kDouble).view({3, 2});
  for (double tau : {0.05, 0.5, 1.0}) {
    EXPECT_NEAR(nt_xent(t1, t2, tau).item<double>(), by_hand(a, b, tau), 1e-10) << "tau " << tau;
  }
}

TEST(NtXent, InvariantToTheScaleOfEachEmbedding) {
  torch::manual_seed(24);
  auto z1 = torch::randn({16, 32}, torch::kDouble), z2 = torch::randn({16, 32}, torch::kDouble);
  auto s1 = torch::rand({16, 1}, torch::kDouble) * 10 + 0.1, s2 = torch::rand({16, 1}, torch::kDouble) * 10 + 0.1;
  EXPECT_NEAR(nt_xent(z1, z2).item<double>(), nt_xent(z1 * s1, z2 * s2).item<double>(), 1e-10);
}

TEST(NtXent, LowForAlignedPairsHighForRandomOnesAndFiniteGradients) {
  torch::manual_seed(25);
  auto z = torch::randn({64, 16});
  const double aligned = nt_xent(z, z + 0.01 * torch::randn_like(z)).item<double>();
  const double random = nt_xent(z, torch::randn({64, 16})).item<double>();
  EXPECT_LT(aligned, random);
  auto w = torch::randn({8, 4}, torch::requires_grad());
  nt_xent(w, w.flip(0), 0.05).backward();
  EXPECT_TRUE(torch::isfinite(w.grad()).all().item<bool>());
}

TEST(NtXent, BadShapesThrow) {
  EXPECT_THROW(nt_xent(torch::randn({4, 3}), torch::randn({5, 3})), std::invalid_argument);
  EXPECT_THROW(nt_xent(torch::randn({4}), torch::randn({4})), std::invalid_argument);
  EXPECT_THROW(nt_xent(torch::randn({4, 3}), torch::randn({4, 3}), 0.0), std::invalid_argument);
}
