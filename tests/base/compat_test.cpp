// compat.h: the LibTorch version shim.
#include "leaves/compat.h"

#include <gtest/gtest.h>

#include <regex>

namespace {

TEST(Compat, VersionDeviceAndMemoryQueriesOnTheCpu) {
  EXPECT_TRUE(std::regex_match(std::string(leaves::compat::torch_version()), std::regex(R"(\d+\.\d+\.\d+.*)")));
  EXPECT_EQ(leaves::compat::device_name(torch::Device("cpu")), "cpu");
  EXPECT_EQ(leaves::compat::peak_memory_bytes(torch::Device("cpu")), -1);
  leaves::compat::synchronize(torch::Device("cpu"));  // nothing to wait for
}

TEST(Compat, AutocastGuardTurnsCpuAutocastOnAndRestoresIt) {
  const bool before = leaves::compat::autocast_on(torch::kCPU);
  {
    leaves::compat::AutocastGuard off(torch::Device("cpu"), false);
    EXPECT_EQ(leaves::compat::autocast_on(torch::kCPU), before);  // disabled: changes nothing
  }
  {
    leaves::compat::AutocastGuard on(torch::Device("cpu"), true);
    EXPECT_TRUE(leaves::compat::autocast_on(torch::kCPU));
    EXPECT_EQ(leaves::compat::autocast_type(torch::kCPU), torch::kBFloat16);
    const auto y = torch::matmul(torch::ones({2, 2}), torch::ones({2, 2}));
    EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(leaves::compat::autocast_on(torch::kCPU), before);
}

}  // namespace
