// engine::OpCounter: what counts as an operator that works.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "leaves/engine/op_counter.h"

using namespace leaves;

TEST(OpCounter, CountsWorkNotViewsWrappersOrNumbers) {
  auto a = torch::randn({4, 5}), b = torch::randn({5, 3});
  engine::OpCounter counter;
  auto v = a.view({5, 4}).narrow(0, 1, 2).unsqueeze(0).expand({3, 2, 4});  // views only
  auto same = a.to(torch::kFloat).contiguous();                              // copies nothing
  EXPECT_EQ(counter.count(), 0);
  auto m = torch::matmul(a, b);  // matmul wraps mm: one
  EXPECT_EQ(counter.count(), 1);
  auto s = 1 + a * 2.0;  // two kernels; the numbers are converted, not launched
  EXPECT_EQ(counter.count(), 3);
  auto d = a.to(torch::kDouble);  // a real copy
  auto z = torch::zeros({3});     // an allocation and a fill
  const auto names = counter.by_name();
  EXPECT_EQ(counter.count(), 5);
  EXPECT_EQ(names.at("aten::mm"), 1);
  EXPECT_EQ(names.at("aten::copy_"), 1);
  EXPECT_EQ(counter.syncs(), 0);
  (void)a.sum().item<float>();  // a host synchronisation, counted apart
  EXPECT_EQ(counter.syncs(), 1);
  counter.reset();
  EXPECT_EQ(counter.count(), 0);
  EXPECT_THROW(engine::OpCounter second, std::logic_error);
  (void)v, (void)same, (void)m, (void)s, (void)d, (void)z;
}
