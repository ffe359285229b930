// engine::StepGraph: on the CPU (and in a build without CUDA graphs) a step
// runs eagerly, every call, with the same result as the body itself.
#include "leaves/engine/step_graph.h"

#include <gtest/gtest.h>

namespace {

TEST(StepGraph, RunsTheBodyEagerlyOnTheCpuAndNeverCaptures) {
  leaves::engine::StepGraph graph(1);
  int calls = 0;
  auto body = [&](const torch::Tensor& x) {
    ++calls;
    return (x * 2).sum();
  };
  for (int i = 1; i <= 4; ++i) {
    const auto x = torch::full({3}, static_cast<float>(i));
    EXPECT_EQ(graph.run(x, body).item<float>(), 6.0f * i);
  }
  EXPECT_EQ(calls, 4);
  EXPECT_FALSE(graph.captured());
  graph.reset();
  EXPECT_FALSE(graph.captured());
}

}  // namespace
