// Winograd F(4, 3): each pass against LibTorch's direct convolution, in double
// precision (the algorithm is exact up to rounding) and in float (rounding
// only), on lengths that are and are not multiples of the tile, down to L = 1.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "leaves/nn/resnet1d.h"
#include "leaves/engine/cpu_conv.h"
#include "testing.h"

namespace {

using leaves::engine::winograd_conv1d;
namespace wd = leaves::engine::winograd_detail;

double rel_err(const torch::Tensor& a, const torch::Tensor& ref) {
  return (a.to(torch::kDouble) - ref).abs().max().item<double>() /
         std::max(1e-300, ref.abs().max().item<double>());
}

struct Shape {
  int64_t B, Ci, Co, L;
};

const Shape kShapes[] = {{2, 3, 5, 1}, {2, 3, 5, 2}, {3, 4, 6, 3}, {2, 5, 3, 4},  {2, 2, 7, 5},
                         {4, 1, 8, 97}, {3, 8, 1, 64}, {2, 16, 16, 63}, {5, 6, 9, 1000}};

TEST(Winograd, EachPassMatchesTheDirectConvolutionInDouble) {
  leaves::testing::ThreadsGuard two(2);  // groups on both threads, two weight-gradient slots
  torch::manual_seed(0);
  for (const auto& s : kShapes) {
    auto x = torch::randn({s.B, s.Ci, s.L}, torch::kDouble);
    auto w = torch::randn({s.Co, s.Ci, 3}, torch::kDouble);
    auto g = torch::randn({s.B, s.Co, s.L}, torch::kDouble);
    auto y = torch::conv1d(x, w, {}, 1, 1);
    auto ref = at::convolution_backward(g, x, w, c10::nullopt, {1}, {1}, {1}, false, {0}, 1, {true, true, false});
    SCOPED_TRACE(::testing::Message() << "B=" << s.B << " Ci=" << s.Ci << " Co=" << s.Co << " L=" << s.L);
    EXPECT_LT(rel_err(wd::forward(x, w), y), 1e-12);
    EXPECT_LT(rel_err(wd::input_grad(g, w), std::get<0>(ref)), 1e-12);
    EXPECT_LT(rel_err(wd::weight_grad(x, g), std::get<1>(ref)), 1e-12);
  }
}

TEST(Winograd, FloatDiffersFromDoubleByRoundingOnly) {
  leaves::testing::ThreadsGuard two(2);
  torch::manual_seed(1);
  for (const auto& s : {Shape{8, 64, 64, 500}, Shape{8, 512, 512, 63}, Shape{4, 1, 64, 1000}}) {
    auto x = torch::randn({s.B, s.Ci, s.L});
    auto w = torch::randn({s.Co, s.Ci, 3}) / std::sqrt(3.0 * s.Ci);
    auto g = torch::randn({s.B, s.Co, s.L});
    auto xd = x.to(torch::kDouble), wdb = w.to(torch::kDouble), gd = g.to(torch::kDouble);
    auto ref = at::convolution_backward(gd, xd, wdb, c10::nullopt, {1}, {1}, {1}, false, {0}, 1, {true, true, false});
    SCOPED_TRACE(::testing::Message() << "Ci=" << s.Ci << " L=" << s.L);
    // LibTorch's own fp32 convolution is ~1e-6 from double here; allow 2e-5.
    EXPECT_LT(rel_err(wd::forward(x, w), torch::conv1d(xd, wdb, {}, 1, 1)), 2e-5);
    EXPECT_LT(rel_err(wd::input_grad(g, w), std::get<0>(ref)), 2e-5);
    EXPECT_LT(rel_err(wd::weight_grad(x, g), std::get<1>(ref)), 2e-5);
  }
}

// `conv(x, w, b)` against LibTorch's conv1d with the given stride (padding 1),
// values and all three gradients, in double.
template <class Conv>
void expect_direct_gradients(Conv conv, int64_t stride) {
  auto x = torch::randn({3, 4, 23}, torch::kDouble).requires_grad_();
  auto w = torch::randn({5, 4, 3}, torch::kDouble).requires_grad_();
  auto b = torch::randn({5}, torch::kDouble).requires_grad_();
  auto y = conv(x, w, b);
  auto up = torch::randn_like(y);
  (y * up).sum().backward();
  auto gx = x.grad().clone(), gw = w.grad().clone(), gb = b.grad().clone();
  x.mutable_grad().reset();
  w.mutable_grad().reset();
  b.mutable_grad().reset();
  auto yr = torch::conv1d(x, w, b, stride, 1);
  EXPECT_LT(rel_err(y.detach(), yr.detach()), 1e-12);
  (yr * up).sum().backward();
  EXPECT_LT(rel_err(gx, x.grad()), 1e-12);
  EXPECT_LT(rel_err(gw, w.grad()), 1e-12);
  EXPECT_LT(rel_err(gb, b.grad()), 1e-12);
}

TEST(Winograd, AutogradGivesTheDirectConvolutionsGradients) {
  torch::manual_seed(2);
  expect_direct_gradients([](auto x, auto w, auto b) { return winograd_conv1d(x, w, b); }, 1);

  // Without a bias, and with only the weight needing a gradient.
  auto x2 = torch::randn({2, 4, 9}, torch::kDouble);
  auto w2 = torch::randn({3, 4, 3}, torch::kDouble).requires_grad_();
  winograd_conv1d(x2, w2, torch::Tensor()).sum().backward();
  auto ref = at::convolution_backward(torch::ones({2, 3, 9}, torch::kDouble), x2, w2.detach(), c10::nullopt, {1}, {1},
                                      {1}, false, {0}, 1, {false, true, false});
  EXPECT_LT(rel_err(w2.grad(), std::get<1>(ref)), 1e-12);
}

TEST(Winograd, RefusesWhatItCannotCompute) {
  auto w = torch::randn({4, 3, 3});
  EXPECT_THROW(winograd_conv1d(torch::randn({2, 2, 10}), w, {}), std::invalid_argument);  // channels
  EXPECT_THROW(winograd_conv1d(torch::randn({2, 3, 10}, torch::kDouble), w, {}), std::invalid_argument);  // dtype
  EXPECT_THROW(winograd_conv1d(torch::randn({2, 3, 10}), torch::randn({4, 3, 5}), {}), std::invalid_argument);  // k
  EXPECT_THROW(winograd_conv1d(torch::randn({2, 3, 10}), w, torch::randn({3})), std::invalid_argument);  // bias
  EXPECT_FALSE(leaves::engine::winograd_applicable(torch::randn({2, 3, 10}).to(torch::kBFloat16), w));
  try {
    leaves::engine::parse_cpu_conv("fast");
    ADD_FAILURE() << "no error for --cpu-conv fast";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--cpu-conv must be auto, blas or torch, got 'fast'"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(leaves::engine::parse_cpu_conv("blas"), leaves::engine::CpuConv::Blas);
}

TEST(GemmConv, EachPassMatchesTheDirectConvolutionInDouble) {
  leaves::testing::ThreadsGuard two(2);
  namespace gd = leaves::engine::gemm_detail;
  torch::manual_seed(4);
  for (int64_t k : {1, 3}) {
    for (int64_t stride : {1, 2, 3}) {
      for (const auto& s : {Shape{2, 3, 5, 1}, Shape{3, 4, 6, 2}, Shape{2, 5, 3, 7}, Shape{4, 6, 9, 64}, Shape{3, 8, 5, 125}}) {
        auto x = torch::randn({s.B, s.Ci, s.L}, torch::kDouble);
        auto w = torch::randn({s.Co, s.Ci, k}, torch::kDouble);
        auto y = torch::conv1d(x, w, {}, stride, (k - 1) / 2);
        auto g = torch::randn_like(y);
        auto ref = at::convolution_backward(g, x, w, c10::nullopt, {stride}, {(k - 1) / 2}, {1}, false, {0}, 1,
                                            {true, true, false});
        SCOPED_TRACE(::testing::Message() << "k=" << k << " stride=" << stride << " Ci=" << s.Ci << " L=" << s.L);
        EXPECT_LT(rel_err(gd::forward(x, w, stride), y), 1e-12);
        EXPECT_LT(rel_err(gd::input_grad(g, w, stride, s.L), std::get<0>(ref)), 1e-12);
        EXPECT_LT(rel_err(gd::weight_grad(x, g, k, stride), std::get<1>(ref)), 1e-12);
      }
    }
  }
  EXPECT_THROW(leaves::engine::gemm_conv1d(torch::randn({2, 3, 10}), torch::randn({4, 3, 5}), {}, 2),
               std::invalid_argument);
  EXPECT_THROW(leaves::engine::gemm_conv1d(torch::randn({2, 3, 10}), torch::randn({4, 3, 3}), {}, 0),
               std::invalid_argument);
}

TEST(GemmConv, AutogradGivesTheDirectConvolutionsGradients) {
  torch::manual_seed(5);
  expect_direct_gradients([](auto x, auto w, auto b) { return leaves::engine::gemm_conv1d(x, w, b, 2); }, 2);
}

// The library's own parallel loops really run on several threads: without
// -fopenmp at::parallel_for's pragma is dropped from our translation units and
// every "parallel" kernel runs on the calling thread (as it silently did for
// two sessions).
TEST(CpuConv, LibraryKernelsRunOnEveryThread) {
#ifndef LEAVES_OPENMP
  GTEST_SKIP() << "built with -DLEAVES_OPENMP=OFF: the library's kernels run on one thread";
#endif
  leaves::testing::ThreadsGuard two(2);
  EXPECT_EQ(leaves::engine::library_parallel_threads(), 2);
}

// `auto` (with a fast BLAS) sends every convolution to the BLAS: Winograd the
// 3-tap stride-1 ones from kWinogradMinChannels input channels on, im2col the
// rest; `torch` none.
TEST(CpuConv, AutoPicksWinogradFromSixteenChannelsAndIm2colBelow) {
  if (!leaves::engine::blas_is_fast()) {
    GTEST_SKIP() << "slow BLAS here (" << leaves::engine::blas_gflops() << " GFLOP/s): auto never takes the BLAS paths";
  }
  ASSERT_EQ(leaves::engine::kWinogradMinChannels, 16);
  torch::NoGradGuard no_grad;
  leaves::nn::ResNet1d narrow(leaves::nn::ResNet1dOptions(1).width(8));
  auto c0 = leaves::engine::cpu_conv_calls();
  narrow->forward(torch::randn({2, 1, 64}));
  auto c1 = leaves::engine::cpu_conv_calls();
  // Input channels 1 (stem), 8, 16, 32, 64: the three 3-tap stride-1
  // convolutions of stages 2, 3 and 4 after their strided first one are
  // Winograd; the stem, stage 1's four and the six strided or 1 x 1 ones im2col.
  EXPECT_EQ(c1.winograd - c0.winograd, 9);
  EXPECT_EQ(c1.im2col - c0.im2col, 11);
  leaves::nn::ResNet1d wide(leaves::nn::ResNet1dOptions(1).width(64));
  wide->forward(torch::randn({2, 1, 64}));
  auto c2 = leaves::engine::cpu_conv_calls();
  EXPECT_EQ(c2.winograd - c1.winograd, 13);  // all 14 but the stem
  EXPECT_EQ(c2.im2col - c1.im2col, 7);
  wide->options.execution().cpu_conv = leaves::engine::CpuConv::Torch;
  wide->forward(torch::randn({2, 1, 64}));
  auto c3 = leaves::engine::cpu_conv_calls();
  EXPECT_EQ(c3.winograd - c2.winograd, 0);
  EXPECT_EQ(c3.im2col - c2.im2col, 0);
}

// The whole encoder: Winograd and im2col against LibTorch's convolutions, same weights,
// in double: outputs, the input gradient (what the LEAVES generator learns
// from) and every parameter gradient.
TEST(Winograd, EncoderMatchesLibTorchsConvolutions) {
  leaves::testing::ThreadsGuard two(2);  // the per-thread pipelines and weight-gradient slots
  torch::manual_seed(3);
  leaves::nn::ResNet1d a(leaves::nn::ResNet1dOptions(2).width(4));
  a->to(torch::kDouble);
  auto b = std::dynamic_pointer_cast<leaves::nn::ResNet1dImpl>(a->clone());
  a->options.execution().cpu_conv = leaves::engine::CpuConv::Torch;
  b->options.execution().cpu_conv = leaves::engine::CpuConv::Blas;
  auto x = torch::randn({6, 2, 75}, torch::kDouble);
  auto xa = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
  auto up = torch::randn({6, 32}, torch::kDouble);
  const auto before = leaves::engine::cpu_conv_calls();
  auto ya = a->forward(xa), yb = b->forward(xb);
  const auto after = leaves::engine::cpu_conv_calls();
  // b ran its 14 3-tap stride-1 convolutions (the stem's included) as Winograd
  // and the other 6 (three strided 3-tap ones, three 1 x 1 shortcuts) as
  // im2col; a none of them.
  EXPECT_EQ(after.winograd - before.winograd, 14);
  EXPECT_EQ(after.im2col - before.im2col, 6);
  EXPECT_LT(rel_err(yb.detach(), ya.detach()), 1e-10);
  (ya * up).sum().backward();
  (yb * up).sum().backward();
  EXPECT_LT(rel_err(xb.grad(), xa.grad()), 1e-10);
  leaves::testing::expect_same_parameter_grads(*b, *a, 1e-9);
}

}  // namespace
