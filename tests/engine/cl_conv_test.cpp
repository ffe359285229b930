// engine::cl_gemm_conv: the channels-last convolution as im2col matrix products.
#include "leaves/engine/cl_conv.h"

#include <gtest/gtest.h>

using namespace leaves::engine;

// The channels-last convolutions as matrix products (cl_gemm_conv) against
// LibTorch's convolution in double precision: output, input, weight and bias
// gradients, for the encoder's kinds (3 taps stride 1 and 2, 1 x 1 stride 2),
// odd and even lengths, lengths 1 and 2, with and without a bias.
TEST(ClGemmConv, MatchesLibTorchsConvolutionInDouble) {
  struct Case {
    int64_t B, Ci, Co, L, k, s;
  };
  const Case cases[] = {{3, 4, 5, 17, 3, 1}, {2, 4, 6, 17, 3, 2}, {2, 4, 6, 16, 3, 2}, {2, 4, 6, 17, 1, 2},
                        {2, 3, 5, 9, 1, 1},  {1, 2, 3, 1, 3, 1},  {2, 2, 3, 1, 3, 2},  {2, 2, 3, 2, 3, 2},
                        {2, 3, 4, 10, 3, 3}};
  torch::manual_seed(21);
  for (const auto& c : cases) {
    for (bool with_bias : {false, true}) {
      SCOPED_TRACE("B=" + std::to_string(c.B) + " Ci=" + std::to_string(c.Ci) + " L=" + std::to_string(c.L) +
                   " k=" + std::to_string(c.k) + " s=" + std::to_string(c.s) + (with_bias ? " bias" : ""));
      auto x = torch::randn({c.B, c.Ci, 1, c.L}, torch::kDouble).contiguous(at::MemoryFormat::ChannelsLast);
      auto w = torch::randn({c.Co, c.Ci, c.k}, torch::kDouble);
      auto b = with_bias ? torch::randn({c.Co}, torch::kDouble) : torch::Tensor();
      auto run = [&](bool ours) {
        auto xi = x.clone().requires_grad_(), wi = w.clone().requires_grad_();
        auto bi = with_bias ? b.clone().requires_grad_() : torch::Tensor();
        auto y = ours ? cl_gemm_conv(xi, wi, bi, c.s)
                      : at::conv2d(xi, wi.unsqueeze(2), bi, std::vector<int64_t>{1, c.s},
                                   std::vector<int64_t>{0, (c.k - 1) / 2});
        torch::manual_seed(3);
        auto up = torch::randn(y.sizes(), torch::kDouble);
        (y * up).sum().backward();
        return std::vector<torch::Tensor>{y.detach(), xi.grad(), wi.grad(), with_bias ? bi.grad() : torch::zeros({1})};
      };
      const auto ours = run(true), ref = run(false);
      ASSERT_EQ(ours[0].sizes(), ref[0].sizes());
      EXPECT_TRUE(ours[0].is_contiguous(at::MemoryFormat::ChannelsLast));
      const char* names[] = {"y", "dx", "dw", "db"};
      for (int i = 0; i < 4; ++i) EXPECT_TRUE(torch::allclose(ours[i], ref[i], 1e-11, 1e-12)) << names[i];
    }
  }
  // What it does not take.
  auto x = torch::randn({2, 3, 1, 8});
  EXPECT_FALSE(cl_gemm_conv_applicable(torch::randn({2, 3, 8}), torch::randn({4, 3, 3}), 1));
  EXPECT_FALSE(cl_gemm_conv_applicable(x, torch::randn({4, 3, 5}), 1));
  EXPECT_FALSE(cl_gemm_conv_applicable(x, torch::randn({4, 2, 3}), 1));
  EXPECT_FALSE(cl_gemm_conv_applicable(x, torch::randn({4, 3, 3}), 0));
  EXPECT_THROW(cl_gemm_conv(x, torch::randn({4, 3, 5}), {}, 1), std::invalid_argument);
  EXPECT_THROW(cl_gemm_conv(x, torch::randn({4, 3, 3}, torch::kDouble), {}, 1), std::invalid_argument);
  EXPECT_THROW(cl_gemm_conv(x, torch::randn({4, 3, 3}), torch::zeros({5}), 1), std::invalid_argument);
}
