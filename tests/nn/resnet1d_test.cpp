#include "leaves/nn/resnet1d.h"
#include "leaves/engine/cpu_conv.h"

#include <iostream>

#include "testing.h"

using namespace leaves::nn;
using namespace leaves::engine;

TEST(ResNet1d, RepresentationShapeForAnyChannelsAndLength) {
  for (int64_t C : {1, 12}) {
    ResNet1d enc(ResNet1dOptions(C).width(8));
    for (int64_t L : {2, 17, 301}) {
      auto h = enc(torch::randn({3, C, L}));
      EXPECT_EQ(h.sizes(), (std::vector<int64_t>{3, 64}));
    }
  }
}

TEST(ResNet1d, PaperArchitecture) {
  ResNet1d enc(ResNet1dOptions(1));
  EXPECT_EQ(enc->output_dim(), 512);
  int64_t n = 0;
  for (const auto& p : enc->parameters()) n += p.numel();
  std::cout << "ResNet-18 1D parameters (C = 1): " << n << "\n";
  // Stem conv (1*64*3 + 64) ... a ResNet-18 with k = 3 convolutions in 1D has ~3.85M weights.
  EXPECT_GT(n, 3800000);
  EXPECT_LT(n, 3900000);
  // 8 blocks; shortcuts (1x1 conv + BN) exactly where the shape changes.
  int shortcuts = 0;
  for (const auto& m : enc->body->children()) {
    auto b = std::dynamic_pointer_cast<BasicBlock1dImpl>(m);
    ASSERT_TRUE(b);
    if (b->shortcut_conv) ++shortcuts;
  }
  EXPECT_EQ(enc->body->size(), 8u);
  EXPECT_EQ(shortcuts, 3);
}

TEST(ResNet1d, GradientsReachTheStemAndBadInputsThrow) {
  ResNet1d enc(ResNet1dOptions(2).width(8));
  enc(torch::randn({4, 2, 40})).pow(2).sum().backward();
  EXPECT_GT(enc->stem_conv->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_THROW(enc(torch::randn({4, 3, 40})), std::invalid_argument);
  EXPECT_THROW(enc(torch::randn({4, 40})), std::invalid_argument);
  EXPECT_THROW(ResNet1d(ResNet1dOptions(0)), std::invalid_argument);
}

// The channels-last layout is the same network: same outputs, same gradients
// (double precision, training-mode BatchNorm, odd lengths and strided stages).
TEST(ResNet1d, ChannelsLastLayoutComputesTheSameFunctionAndGradients) {
  for (int64_t C : {1, 3}) {
    torch::manual_seed(11 + C);
    ResNet1d a(ResNet1dOptions(C).width(4));
    a->to(torch::kDouble);
    auto b = std::dynamic_pointer_cast<ResNet1dImpl>(a->clone());
    b->options.execution().layout = leaves::engine::Layout::ChannelsLast;
    EXPECT_EQ(a->options.execution().layout, leaves::engine::Layout::ChannelsFirst);  // a clone's own options
    auto x = torch::randn({5, C, 37}, torch::kDouble);
    auto ya = a->forward(x), yb = b->forward(x);
    ASSERT_EQ(yb.sizes(), ya.sizes());
    EXPECT_TRUE(torch::allclose(ya, yb, 1e-10, 1e-12));
    auto w = torch::randn_like(ya);
    (ya * w).sum().backward();
    (yb * w).sum().backward();
    auto pa = a->named_parameters(), pb = b->named_parameters();
    for (const auto& p : pa) {
      const auto& ga = p.value().grad();
      const auto& gb = pb[p.key()].grad();
      // The convolutions' biases are left to the BatchNorms (engine::ConvBias::Fold): no gradient in either.
      if (p.key().find("conv") != std::string::npos && p.key().find(".bias") != std::string::npos) {
        EXPECT_FALSE(ga.defined() || gb.defined()) << p.key();
        continue;
      }
      ASSERT_TRUE(ga.defined() && gb.defined()) << p.key();
      EXPECT_TRUE(torch::allclose(ga, gb, 1e-9, 1e-11)) << p.key();
    }
    // The running statistics are updated alike.
    auto ba = a->named_buffers(), bb = b->named_buffers();
    for (const auto& q : ba) EXPECT_TRUE(torch::allclose(q.value().to(torch::kDouble), bb[q.key()].to(torch::kDouble))) << q.key();
  }
}

// The convolutions' biases left to the BatchNorms after them (the default)
// against added and differentiated (LibTorch's way): the same outputs, input
// gradient, gradients of every other parameter and running statistics, in
// training and evaluation mode, in both layouts and both CPU convolution
// paths; the applied biases' gradients are zero up to rounding, which is why
// the folded ones get none.
TEST(ResNet1d, FoldedConvolutionBiasesAreTheSameNetwork) {
  for (bool channels_last : {false, true}) {
    for (CpuConv conv : {CpuConv::Blas, CpuConv::Torch}) {
      SCOPED_TRACE(std::string(channels_last ? "channels-last " : "channels-first ") + cpu_conv_name(conv));
      torch::manual_seed(5);
      ResNet1d a(ResNet1dOptions(3).width(4));
      a->to(torch::kDouble);
      {
        torch::NoGradGuard no_grad;  // biases well away from zero, so that leaving them out would show
        for (auto& p : a->named_parameters()) {
          if (p.key().find("conv") != std::string::npos && p.key().find(".bias") != std::string::npos) {
            p.value().uniform_(-2, 2);
          }
        }
      }
      auto b = std::dynamic_pointer_cast<ResNet1dImpl>(a->clone());
      a->options.execution().conv_bias = leaves::engine::ConvBias::Apply;
      EXPECT_EQ(b->options.execution().conv_bias, leaves::engine::ConvBias::Fold);
      for (auto* m : {a.get(), b.get()}) {
        m->options.execution().layout = channels_last ? leaves::engine::Layout::ChannelsLast : leaves::engine::Layout::ChannelsFirst;
        m->options.execution().cpu_conv = conv;
      }
      auto x = torch::randn({6, 3, 53}, torch::kDouble);
      auto xa = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
      auto ya = a->forward(xa), yb = b->forward(xb);
      EXPECT_TRUE(torch::allclose(yb, ya, 1e-10, 1e-12));
      auto up = torch::randn_like(ya);
      (ya * up).sum().backward();
      (yb * up).sum().backward();
      EXPECT_TRUE(torch::allclose(xb.grad(), xa.grad(), 1e-9, 1e-12));
      int folded = 0;
      for (const auto& p : b->named_parameters()) {
        if (p.key().find("conv") != std::string::npos && p.key().find(".bias") != std::string::npos) {
          EXPECT_FALSE(p.value().grad().defined()) << p.key();
          ++folded;
        }
      }
      EXPECT_EQ(folded, 17);  // the stem and the 16 block convolutions (the shortcuts have none)
      leaves::testing::expect_same_parameter_grads(*b, *a, 1e-9);
      auto ba = a->named_buffers(), bb = b->named_buffers();
      for (const auto& q : ba) {
        EXPECT_TRUE(torch::allclose(bb[q.key()].to(torch::kDouble), q.value().to(torch::kDouble), 1e-10, 1e-12))
            << q.key();
      }
      // Evaluation mode: the running statistics, which contain the biases.
      a->eval(), b->eval();
      torch::NoGradGuard no_grad;
      EXPECT_TRUE(torch::allclose(b->forward(x), a->forward(x), 1e-10, 1e-12));
    }
  }
}


// The whole encoder in the channels-last layout with its convolutions as
// matrix products: the same function and gradients as with LibTorch's, in
// double precision; the same function in float within rounding.
TEST(ClGemmConv, EncoderComputesTheSameFunction) {
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    torch::manual_seed(8);
    ResNet1d a(ResNet1dOptions(2).width(4));
    a->to(dtype);
    a->options.execution().layout = leaves::engine::Layout::ChannelsLast;
    auto b = std::dynamic_pointer_cast<ResNet1dImpl>(a->clone());
    b->options.execution().cl_conv = leaves::engine::ClConv::Gemm;
    EXPECT_EQ(b->options.execution().layout, leaves::engine::Layout::ChannelsLast);
    EXPECT_EQ(a->options.execution().cl_conv, leaves::engine::ClConv::Torch);
    auto x = torch::randn({5, 2, 41}, dtype);
    auto ya = a->forward(x), yb = b->forward(x);
    const double tol = dtype == torch::kDouble ? 1e-10 : 1e-4;
    EXPECT_TRUE(torch::allclose(yb, ya, tol, tol));
    // Gradients in double only: in float a pre-activation within rounding of
    // zero may fall on the other side of a LeakyReLU's kink (see the
    // distributed equivalence test).
    if (dtype != torch::kDouble) continue;
    auto up = torch::randn_like(ya);
    (ya * up).sum().backward();
    (yb * up).sum().backward();
    leaves::testing::expect_same_parameter_grads(*b, *a, 1e-9);
  }
}
