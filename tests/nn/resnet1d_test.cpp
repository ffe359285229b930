#include "leaves/nn/resnet1d.h"

#include <iostream>

#include "testing.h"

using namespace leaves::nn;

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
    b->set_channels_last(true);
    EXPECT_TRUE(b->channels_last());
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
      // The convolutions' biases are left to the BatchNorms (set_fold_conv_bias): no gradient in either.
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
      a->set_fold_conv_bias(false);
      EXPECT_TRUE(b->fold_conv_bias());
      for (auto* m : {a.get(), b.get()}) m->set_channels_last(channels_last), m->set_cpu_conv(conv);
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

// The whole encoder in the channels-last layout with its convolutions as
// matrix products: the same function and gradients as with LibTorch's, in
// double precision; the same function in float within rounding.
TEST(ClGemmConv, EncoderComputesTheSameFunction) {
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    torch::manual_seed(8);
    ResNet1d a(ResNet1dOptions(2).width(4));
    a->to(dtype);
    a->set_channels_last(true);
    auto b = std::dynamic_pointer_cast<ResNet1dImpl>(a->clone());
    b->set_cl_gemm_conv(true);
    EXPECT_TRUE(b->cl_gemm_conv());
    EXPECT_FALSE(a->cl_gemm_conv());
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
