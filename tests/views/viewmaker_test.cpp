#include "leaves/views/viewmaker.h"

#include <iostream>

#include "testing.h"

using namespace leaves::views;

TEST(ViewMaker, ParameterCountMatchesThePaper) {
  ViewMaker vm(ViewMakerOptions(1));
  const int64_t n = vm->parameter_count();
  std::cout << "ViewMaker 1D parameters (C = 1): " << n << "\n";
  EXPECT_GT(n, 570000);
  EXPECT_LT(n, 600000);
}

TEST(ViewMaker, L1BudgetHoldsForEverySampleAndAnyLength) {
  torch::manual_seed(22);
  for (int64_t C : {1, 12}) {
    ViewMaker vm(ViewMakerOptions(C).budget(0.05));
    for (int64_t L : {1, 3, 17, 301, 1000}) {
      auto x = torch::randn({3, C, L});
      auto d = vm->delta(x);
      ASSERT_EQ(d.sizes(), x.sizes());
      auto l1 = d.abs().mean({1, 2});
      EXPECT_LT((l1 - 0.05).abs().max().item<double>(), 1e-4) << "C=" << C << " L=" << L;
      auto v = vm(x);
      EXPECT_EQ(v.sizes(), x.sizes());
    }
  }
}

TEST(ViewMaker, FreshNoiseAndGradientsReachTheGenerator) {
  torch::manual_seed(23);
  ViewMaker vm(ViewMakerOptions(1));
  auto x = torch::randn({2, 1, 64});
  auto a = vm(x);
  EXPECT_FALSE(torch::equal(a, vm(x)));
  a.pow(2).sum().backward();
  int64_t with_grad = 0, total = 0;
  for (const auto& p : vm->parameters()) {
    ++total;
    if (p.grad().defined() && p.grad().abs().sum().item<double>() > 0) ++with_grad;
  }
  EXPECT_GT(with_grad, total / 2);
}

TEST(ViewMaker, FiftyTwoChannelsAndBadInputs) {
  ViewMaker vm(ViewMakerOptions(52));
  EXPECT_EQ(vm(torch::randn({2, 52, 33})).sizes(), (std::vector<int64_t>{2, 52, 33}));
  EXPECT_THROW(vm(torch::randn({2, 3, 33})), std::invalid_argument);
  EXPECT_THROW(vm(torch::randn({2, 33})), std::invalid_argument);
  EXPECT_THROW(ViewMaker(ViewMakerOptions(1).budget(0)), std::invalid_argument);
  EXPECT_THROW(ViewMaker(ViewMakerOptions(0)), std::invalid_argument);
}
