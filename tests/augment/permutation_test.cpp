#include "leaves/augment/permutation.h"

#include <cmath>
#include <vector>

#include "testing.h"

using namespace leaves::augment;

namespace {
// Checks that row b of `idx` is a permutation of 0..L-1 made of n contiguous,
// increasing runs that are exactly the segments floor(t n / L) = s.
void expect_segment_permutation(const torch::Tensor& idx, const torch::Tensor& counts) {
  const int64_t B = idx.size(0), L = idx.size(1);
  for (int64_t b = 0; b < B; ++b) {
    auto row = idx[b];
    EXPECT_TRUE(torch::equal(std::get<0>(row.sort()), torch::arange(L))) << "row " << b << " is not a permutation";
    const int64_t n = counts[b].item<int64_t>();
    auto is_start = [&](int64_t t) { return t == 0 || (t * n) / L != ((t - 1) * n) / L; };
    EXPECT_TRUE(is_start(row[0].item<int64_t>()));
    int64_t runs = 1;
    for (int64_t j = 1; j < L; ++j) {
      const int64_t prev = row[j - 1].item<int64_t>(), cur = row[j].item<int64_t>();
      if (cur != prev + 1) {
        ++runs;
        EXPECT_TRUE(is_start(cur)) << "a run starts mid-segment at " << cur;
      }
    }
    EXPECT_LE(runs, n);
  }
}
}  // namespace

TEST(PermutationIndex, ShufflesWholeSegments) {
  torch::manual_seed(8);
  const int64_t B = 16, L = 103;
  auto counts = torch::randint(1, 6, {B}, torch::kLong);
  auto keys = torch::rand({B, 5});
  auto idx = permutation_index(counts, keys, L);
  ASSERT_EQ(idx.sizes(), (std::vector<int64_t>{B, L}));
  expect_segment_permutation(idx, counts);
  // One segment: the identity.
  auto one = permutation_index(torch::ones({2}, torch::kLong), torch::rand({2, 5}), L);
  EXPECT_TRUE(torch::equal(one, torch::arange(L).expand({2, L})));
}

namespace {
// The definition, by sorting: position t belongs to segment floor(t n / L);
// segments are ordered by their keys, positions inside a segment by time.
torch::Tensor permutation_index_by_sorting(const torch::Tensor& counts, const torch::Tensor& keys, int64_t L) {
  const int64_t B = counts.size(0), K = keys.size(1);
  auto n = counts.view({B, 1});
  auto t = torch::arange(L, torch::kLong).view({1, L});
  auto sid = torch::div(t * n, L, "floor");
  auto masked = torch::where(torch::arange(K).view({1, K}) < n, keys, torch::full({}, 2.0));
  auto rank = masked.argsort(int64_t{1}).argsort(int64_t{1});
  return (rank.gather(1, sid) * L + t).argsort(int64_t{1});
}
}  // namespace

TEST(PermutationIndex, EqualsTheSortingDefinitionExactly) {
  torch::manual_seed(21);
  for (int64_t L : {1, 2, 5, 7, 64, 97, 1000}) {
    for (int64_t K : {1, 2, 5, 9}) {
      const int64_t B = 24;
      auto counts = torch::randint(1, K + 1, {B}, torch::kLong);  // n > L: empty segments
      auto keys = torch::rand({B, K});
      EXPECT_TRUE(torch::equal(permutation_index(counts, keys, L), permutation_index_by_sorting(counts, keys, L)))
          << "L " << L << " K " << K;
    }
  }
}

TEST(PermutationIndex, LoopsEqualLibTorchOperatorsExactly) {
  // The CPU loops (permutation_rows.h, also what the CUDA kernel runs) against
  // the operator version, fp32 and fp64 keys, empty segments (n > L) included.
  torch::manual_seed(22);
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    for (int64_t L : {1, 3, 8, 255, 256, 257, 3000}) {
      for (int64_t K : {1, 2, 5, 16}) {
        const int64_t B = 19;
        auto counts = torch::randint(1, K + 1, {B}, torch::kLong);
        auto keys = torch::rand({B, K}, dtype);
        EXPECT_TRUE(torch::equal(permutation_index(counts, keys, L), permutation_index_reference(counts, keys, L)))
            << "L " << L << " K " << K;
      }
    }
  }
}

TEST(PermutationIndex, OperatorsOnRequestGiveTheSameViewsAndGradients) {
  const bool before = permutation_kernels();
  Permutation p(PermutationOptions().max_segments(5));
  p->to(torch::kDouble);
  auto x = torch::randn({5, 2, 40}, torch::kDouble).requires_grad_();
  auto noise = p->sample_noise(x);
  auto w = torch::randn({5, 2, 40}, torch::kDouble);
  double grads[2];
  torch::Tensor views[2], dx[2];
  for (int own = 1; own >= 0; --own) {
    set_permutation_kernels(own == 1);
    p->raw.mutable_grad() = torch::Tensor();
    x.mutable_grad() = torch::Tensor();
    views[own] = p->transform(x, noise);
    (views[own] * w).sum().backward();
    grads[own] = p->raw.grad().item<double>();
    dx[own] = x.grad().clone();
  }
  set_permutation_kernels(before);
  EXPECT_TRUE(torch::equal(views[0], views[1]));
  EXPECT_TRUE(torch::equal(dx[0], dx[1]));
  EXPECT_NEAR(grads[0], grads[1], 1e-10 * std::max(1.0, std::abs(grads[1])));
}

TEST(PermutationIndex, BadCountsAndShapesThrow) {
  auto keys = torch::rand({2, 5});
  EXPECT_THROW(permutation_index(torch::tensor({int64_t{1}, int64_t{6}}), keys, 10), std::invalid_argument);
  EXPECT_THROW(permutation_index(torch::tensor({int64_t{0}, int64_t{1}}), keys, 10), std::invalid_argument);
  EXPECT_THROW(permutation_index(torch::tensor({1, 2}, torch::kInt), keys, 10), std::invalid_argument);  // int32
  EXPECT_THROW(permutation_index(torch::ones({3}, torch::kLong), keys, 10), std::invalid_argument);
  EXPECT_THROW(permutation_index(torch::ones({2}, torch::kLong), keys, 0), std::invalid_argument);
  EXPECT_THROW(relaxed_permutation_products(torch::zeros({2, 1, 9}), torch::zeros({2, 1, 10}), keys),
               std::invalid_argument);
}

namespace {
// <grad, P_n(x)> for every n by LibTorch's operators, in float64.
torch::Tensor products_by_operators(const torch::Tensor& grad, const torch::Tensor& x, const torch::Tensor& keys) {
  return relaxed_permutation_products_reference(grad.to(torch::kDouble), x.to(torch::kDouble), keys);
}
}  // namespace

TEST(PermutationIndex, RelaxedProductsEqualTheOperatorsSums) {
  torch::manual_seed(23);
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    for (int64_t C : {1, 3}) {
      for (int64_t L : {2, 97, 1000}) {
        auto x = torch::randn({7, C, L}, dtype), g = torch::randn({7, C, L}, dtype);
        auto keys = torch::rand({7, 5}, dtype);
        auto got = relaxed_permutation_products(g, x, keys);
        ASSERT_EQ(got.scalar_type(), dtype);
        auto want = products_by_operators(g, x, keys);
        const double tol = dtype == torch::kDouble ? 1e-12 : 1e-5;
        EXPECT_LT((got.to(torch::kDouble) - want).abs().max().item<double>(),
                  tol * std::max(1.0, want.abs().max().item<double>()))
            << "C " << C << " L " << L;
      }
    }
  }
}

TEST(PermutationIndex, HalfPrecisionKeysAndSignalsOnTheCpu) {
  // bf16 / fp16 on the CPU: distinct keys (exact in either type), the same index
  // as in fp32; the products within the type's rounding.
  torch::manual_seed(25);
  const int64_t B = 6, K = 5, L = 50;
  auto keys = torch::stack({torch::randperm(K), torch::randperm(K), torch::randperm(K), torch::randperm(K),
                            torch::randperm(K), torch::randperm(K)})
                  .to(torch::kFloat) / 16;
  auto counts = torch::randint(1, K + 1, {B}, torch::kLong);
  auto x = torch::randn({B, 2, L}), g = torch::randn({B, 2, L});
  for (auto dtype : {torch::kBFloat16, torch::kHalf}) {
    EXPECT_TRUE(torch::equal(permutation_index(counts, keys.to(dtype), L), permutation_index(counts, keys, L)));
    auto got = relaxed_permutation_products(g.to(dtype), x.to(dtype), keys.to(dtype));
    EXPECT_EQ(got.scalar_type(), dtype);
    auto want = products_by_operators(g.to(dtype), x.to(dtype), keys);
    EXPECT_LT((got.to(torch::kDouble) - want).abs().max().item<double>(), 1e-2 * want.abs().max().item<double>());
  }
}

TEST(Permutation, RelaxedGradientEqualsTheSurrogateOfAllKPermutations) {
  // The definition the estimator implements: a zero-valued surrogate
  // sum_n (y_n - stop(y_n)) P_n(x) added to the view; its gradient w.r.t. the
  // raw parameter must equal the backward-only products', with and without an
  // input that needs a gradient, in float64.
  for (bool input_grad : {false, true}) {
    torch::manual_seed(24);
    Permutation p(PermutationOptions().max_segments(5));
    p->to(torch::kDouble);
    auto x = torch::randn({9, 2, 61}, torch::kDouble).requires_grad_(input_grad);
    auto noise = p->sample_noise(x);
    auto w = torch::randn({9, 2, 61}, torch::kDouble);
    auto y = p->transform(x, noise);
    (y * w).sum().backward();
    const double ours = p->raw.grad().item<double>();
    torch::Tensor ours_dx = input_grad ? x.grad().clone() : torch::Tensor();
    p->raw.mutable_grad() = torch::Tensor();
    if (input_grad) x.mutable_grad() = torch::Tensor();

    const int64_t B = 9, K = 5, L = 61;
    auto view = apply_permutation(x, permutation_index(p->counts(noise), noise.keys, L));
    auto k = p->max_segments();
    auto logits = torch::log_sigmoid((k + 0.5 - torch::arange(1, K + 1, torch::kDouble)) / 0.5);
    auto u = noise.count_u.clamp(1e-12, 1 - 1e-7);
    auto yw = torch::softmax(logits - torch::log(-torch::log(u)), 1);
    auto dyw = (yw - yw.detach()).transpose(0, 1);
    auto surrogate = torch::zeros_like(view);
    for (int64_t n = 1; n <= K; ++n) {
      auto idx = permutation_index_reference(torch::full({B}, n, torch::kLong), noise.keys, L);
      surrogate = surrogate + dyw[n - 1].view({B, 1, 1}) * apply_permutation(x.detach(), idx);
    }
    ((view + surrogate) * w).sum().backward();
    EXPECT_NEAR(ours, p->raw.grad().item<double>(), 1e-10 * std::max(1.0, std::abs(ours))) << input_grad;
    EXPECT_NE(ours, 0.0);
    if (input_grad) {
      EXPECT_TRUE(torch::equal(ours_dx, x.grad()));
    }
  }
}

TEST(PermutationIndex, SegmentsAppearInKeyOrder) {
  // n = 2 on L = 10: segments [0,5) and [5,10); keys (0.9, 0.1) swap them.
  auto idx = permutation_index(torch::tensor({int64_t{2}}), torch::tensor({{0.9f, 0.1f, 0.5f}}), 10);
  EXPECT_TRUE(torch::equal(idx[0], torch::tensor({5, 6, 7, 8, 9, 0, 1, 2, 3, 4}, torch::kLong)));
}

TEST(Permutation, InputGradientIsExactlyTheInversePermutation) {
  torch::manual_seed(9);
  for (auto est : {PermutationEstimator::Relaxed, PermutationEstimator::StraightThrough,
                   PermutationEstimator::RelaxedBernoulli}) {
    Permutation p(PermutationOptions().max_segments(5).estimator(est));
    auto x = torch::randn({6, 3, 97}).requires_grad_();
    auto noise = p->sample_noise(x);
    auto y = p->transform(x, noise);
    auto w = torch::randn_like(y);
    (y * w).sum().backward();
    auto idx = permutation_index(p->counts(noise), noise.keys, 97);
    auto inverse = idx.argsort(int64_t{1});  // output position of each source position
    auto expected = w.gather(2, inverse.unsqueeze(1).expand_as(w));
    EXPECT_TRUE(torch::equal(x.grad(), expected));
    // Forward value is exactly the permuted input.
    EXPECT_TRUE(torch::equal(y, apply_permutation(x.detach(), idx)));
  }
}

TEST(Permutation, CountsStayWithinOneToK) {
  torch::manual_seed(10);
  Permutation p(PermutationOptions().max_segments(5).init(0.999));
  auto x = torch::randn({4000, 1, 20});
  auto n = p->counts(p->sample_noise(x));
  EXPECT_GE(n.min().item<int64_t>(), 1);
  EXPECT_LE(n.max().item<int64_t>(), 5);
  EXPECT_EQ(n.eq(5).any().item<bool>(), true);
  // A small bound k draws mostly one or two segments.
  Permutation small(PermutationOptions().max_segments(5).init(0.01));
  auto m = small->counts(small->sample_noise(x)).to(torch::kDouble);
  EXPECT_LT(m.mean().item<double>(), n.to(torch::kDouble).mean().item<double>());
}

TEST(Permutation, SegmentCountGradientIsFiniteAndNotZero) {
  torch::manual_seed(11);
  for (auto est : {PermutationEstimator::Relaxed, PermutationEstimator::StraightThrough,
                   PermutationEstimator::RelaxedBernoulli}) {
    Permutation p(PermutationOptions().estimator(est));
    auto x = torch::randn({32, 2, 64});
    auto target = torch::randn({32, 2, 64});
    auto loss = (p(x) - target).pow(2).mean();
    loss.backward();
    ASSERT_TRUE(p->raw.grad().defined()) << to_string(est);
    const double g = p->raw.grad().item<double>();
    EXPECT_TRUE(std::isfinite(g)) << to_string(est);
    EXPECT_NE(g, 0.0) << to_string(est);
  }
}

TEST(Permutation, RelaxedGradientPointsTowardsTheBetterCount) {
  // Loss = distance to the identity: fewer segments are better, so gradient
  // descent on the loss must lower k (positive gradient w.r.t. raw) on average.
  torch::manual_seed(12);
  Permutation p(PermutationOptions().max_segments(5));
  auto x = torch::cumsum(torch::randn({256, 1, 100}), 2);
  auto loss = (p(x) - x).pow(2).mean();
  loss.backward();
  EXPECT_GT(p->raw.grad().item<double>(), 0.0);
}

// The paper's RelaxedBernoulli cuts draw the segment count from the same
// distribution as the relaxed categorical (nested cuts from one noise), and
// their gradient also points towards the better count.
TEST(Permutation, RelaxedBernoulliCutsDrawTheSameCountsAndLearnTheCount) {
  torch::manual_seed(13);
  auto x = torch::randn({20000, 1, 10});
  for (double init : {0.2, 0.5, 0.8}) {
    Permutation cat(PermutationOptions().max_segments(5).init(init));
    Permutation bern(PermutationOptions().max_segments(5).init(init).estimator(PermutationEstimator::RelaxedBernoulli));
    const auto a = torch::bincount(cat->counts(cat->sample_noise(x)), {}, 6).to(torch::kDouble) / 20000;
    const auto b = torch::bincount(bern->counts(bern->sample_noise(x)), {}, 6).to(torch::kDouble) / 20000;
    EXPECT_LT((a - b).abs().max().item<double>(), 0.02) << "init " << init << ": " << a << " against " << b;
  }
  Permutation p(PermutationOptions().max_segments(5).estimator(PermutationEstimator::RelaxedBernoulli));
  auto series = torch::cumsum(torch::randn({4096, 1, 100}), 2);
  auto loss = (p(series) - series).pow(2).mean();  // fewer segments are better
  loss.backward();
  EXPECT_GT(p->raw.grad().item<double>(), 0.0);
  EXPECT_EQ(parse_permutation_estimator("relaxed-bernoulli"), PermutationEstimator::RelaxedBernoulli);
  EXPECT_THROW(Permutation(PermutationOptions().bernoulli_temperature(0)), std::invalid_argument);
}

TEST(Permutation, OneSegmentIsTheIdentityAndBadOptionsThrow) {
  Permutation p(PermutationOptions().max_segments(1));
  auto x = torch::randn({3, 2, 10});
  EXPECT_TRUE(torch::equal(p(x), x));
  EXPECT_THROW(Permutation(PermutationOptions().max_segments(0)), std::invalid_argument);
  EXPECT_THROW(Permutation(PermutationOptions().temperature(0)), std::invalid_argument);
  EXPECT_THROW(parse_permutation_estimator("gumbel"), std::invalid_argument);
  Permutation q;
  EXPECT_THROW(q(torch::zeros({3, 10})), std::invalid_argument);
}

TEST(Permutation, ShapesForManyChannelsAndOddLengths) {
  Permutation p;
  for (int64_t C : {1, 12, 52}) {
    auto x = torch::randn({5, C, 3});  // fewer samples than segments is fine
    EXPECT_EQ(p(x).sizes(), x.sizes());
    // Channels move together: the same permutation for every channel.
    auto y = (torch::arange(1001, torch::kFloat) + 1000 * torch::arange(C, torch::kFloat).view({C, 1}))
                 .expand({5, C, 1001})
                 .contiguous();
    auto v = p(y);
    EXPECT_TRUE(torch::equal(v - v.narrow(1, 0, 1), y - y.narrow(1, 0, 1)));
  }
}

TEST(RandomPermutation, PermutesWithinEachSample) {
  auto x = torch::arange(40, torch::kFloat).view({2, 2, 10});
  auto y = random_permutation(x, 5);
  EXPECT_TRUE(torch::equal(std::get<0>(y.sort(2)), x));
  EXPECT_TRUE(torch::equal(y.select(1, 1) - y.select(1, 0), torch::full({2, 10}, 10.0f)));
}
