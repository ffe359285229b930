// The fused BatchNorm + residual + LeakyReLU kernel (batch_norm_act) against
// LibTorch's separate ops: values, every gradient, the running statistics, in
// double (same arithmetic up to rounding) and float; when it applies; that its
// result does not depend on the number of threads; the whole encoder.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "leaves/nn/batchnorm.h"
#include "leaves/nn/resnet1d.h"
#include "testing.h"

namespace {

using leaves::nn::batch_norm_act;
using leaves::nn::BatchNorm1d;

// Relative to the reference's largest value, with a floor of 1e-3: with two
// values per channel the input gradient of a BatchNorm is zero up to rounding
// (every g lies in the span of 1 and xhat), and the quantities here are O(1).
double rel_err(const torch::Tensor& a, const torch::Tensor& ref) {
  return (a.to(torch::kDouble) - ref.to(torch::kDouble)).abs().max().item<double>() /
         std::max(1e-3, ref.abs().max().item<double>());
}

struct Result {
  torch::Tensor y, dx, dres, dweight, dbias, running_mean, running_var, tracked;
};

// One forward and backward of batch_norm_act on fresh copies of the inputs,
// with a BatchNorm whose affine parameters and running statistics are not the
// defaults (so that every term shows).
Result run(const torch::Tensor& x, const torch::Tensor& res, const torch::Tensor& up, bool activate, bool fused,
           torch::Dtype dtype) {
  torch::manual_seed(7);
  BatchNorm1d bn(x.size(1));
  {
    torch::NoGradGuard g;  // drawn in float, then converted: the same values in every dtype
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-0.5, 0.5);
    bn->running_mean.uniform_(-1, 1);
    bn->running_var.uniform_(0.5, 2);
  }
  bn->to(dtype);
  auto xi = x.detach().to(dtype).clone().requires_grad_();
  auto ri = res.defined() ? res.detach().to(dtype).clone().requires_grad_() : torch::Tensor();
  auto y = batch_norm_act(bn, xi, ri, activate, 0.01, fused);
  (y * up.to(dtype)).sum().backward();
  return {y.detach(), xi.grad(), ri.defined() ? ri.grad() : torch::Tensor(), bn->weight.grad(), bn->bias.grad(),
          bn->running_mean, bn->running_var, bn->num_batches_tracked};
}

void expect_close(const Result& a, const Result& ref, double tol) {
  EXPECT_LT(rel_err(a.y, ref.y), tol);
  EXPECT_LT(rel_err(a.dx, ref.dx), tol);
  if (ref.dres.defined()) EXPECT_LT(rel_err(a.dres, ref.dres), tol);
  EXPECT_LT(rel_err(a.dweight, ref.dweight), tol);
  // The bias gradient of a BatchNorm is sum(g): no cancellation, same scale.
  EXPECT_LT(rel_err(a.dbias, ref.dbias), tol);
  EXPECT_LT(rel_err(a.running_mean, ref.running_mean), tol);
  EXPECT_LT(rel_err(a.running_var, ref.running_var), tol);
  EXPECT_EQ(a.tracked.item<int64_t>(), ref.tracked.item<int64_t>());
}

struct Shape {
  int64_t B, C, L;
};
// Lengths below, at and past the kernels' 8-wide blocks, the encoder's L = 63,
// one value per channel per sample (B = 4, L = 1).
const Shape kShapes[] = {{4, 3, 1}, {1, 2, 2}, {3, 5, 7}, {2, 4, 8}, {4, 3, 63}, {2, 6, 100}, {8, 16, 37}};

TEST(BatchNormAct, MatchesLibTorchsOpsInDouble) {
  leaves::testing::ThreadsGuard two(2);
  torch::manual_seed(0);
  for (const auto& s : kShapes) {
    auto x = torch::randn({s.B, s.C, s.L}, torch::kDouble) * 3 + 2;  // a mean and a scale to remove
    auto res = torch::randn({s.B, s.C, s.L}, torch::kDouble);
    auto up = torch::randn({s.B, s.C, s.L}, torch::kDouble);
    for (bool with_res : {false, true}) {
      for (bool act : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "B=" << s.B << " C=" << s.C << " L=" << s.L << " residual=" << with_res
                                          << " activation=" << act);
        const auto r = with_res ? res : torch::Tensor();
        const auto before = leaves::nn::batch_norm_act_calls();
        auto fused = run(x, r, up, act, true, torch::kDouble);
        EXPECT_EQ(leaves::nn::batch_norm_act_calls() - before, 1);
        auto ref = run(x, r, up, act, false, torch::kDouble);
        EXPECT_EQ(leaves::nn::batch_norm_act_calls() - before, 1);  // `fused` false: LibTorch's ops
        expect_close(fused, ref, 1e-12);
      }
    }
  }
}

TEST(BatchNormAct, FloatDiffersFromDoubleByRoundingOnly) {
  torch::manual_seed(1);
  for (const auto& s : {Shape{64, 64, 500}, Shape{64, 512, 63}}) {
    auto x = torch::randn({s.B, s.C, s.L}, torch::kDouble) * 4 - 1;
    auto res = torch::randn({s.B, s.C, s.L}, torch::kDouble);
    auto up = torch::randn({s.B, s.C, s.L}, torch::kDouble);
    SCOPED_TRACE(::testing::Message() << "C=" << s.C << " L=" << s.L);
    auto ref = run(x, res, up, true, false, torch::kDouble);
    auto fused = run(x, res, up, true, true, torch::kFloat);
    auto torch_float = run(x, res, up, true, false, torch::kFloat);
    // LibTorch's own float ops land ~1e-6 from double here.
    expect_close(torch_float, ref, 2e-5);
    expect_close(fused, ref, 2e-5);
  }
}

TEST(BatchNormAct, SameResultOnOneThreadAsOnTwo) {
  torch::manual_seed(2);
  auto x = torch::randn({16, 32, 77}), res = torch::randn({16, 32, 77}), up = torch::randn({16, 32, 77});
  leaves::testing::ThreadsGuard guard(1);
  auto one = run(x, res, up, true, true, torch::kFloat);
  at::set_num_threads(2);
  auto two = run(x, res, up, true, true, torch::kFloat);
  // Bit for bit: per-row sums reduced per channel in a fixed order.
  EXPECT_TRUE(torch::equal(one.y, two.y));
  EXPECT_TRUE(torch::equal(one.dx, two.dx));
  EXPECT_TRUE(torch::equal(one.dweight, two.dweight));
  EXPECT_TRUE(torch::equal(one.running_var, two.running_var));
}

TEST(BatchNormAct, FusesOnlyWhatItComputes) {
  BatchNorm1d bn(4);
  auto x = torch::randn({3, 4, 10});
  using leaves::nn::batch_norm_act_fusable;
  EXPECT_TRUE(batch_norm_act_fusable(*bn, x, {}, true, 0.01));
  EXPECT_TRUE(batch_norm_act_fusable(*bn, x, torch::randn({3, 4, 10}), false, 0));
  EXPECT_FALSE(batch_norm_act_fusable(*bn, x, {}, true, 0.0));         // slope 0: y > 0 loses the sign
  EXPECT_FALSE(batch_norm_act_fusable(*bn, x, {}, true, -0.5));
  EXPECT_FALSE(batch_norm_act_fusable(*bn, x.unsqueeze(2), {}, true, 0.01));  // channels-last 4-D
  EXPECT_FALSE(batch_norm_act_fusable(*bn, x.to(torch::kBFloat16), {}, true, 0.01));
  EXPECT_FALSE(batch_norm_act_fusable(*bn, x, torch::randn({3, 4, 9}), true, 0.01));
  EXPECT_FALSE(batch_norm_act_fusable(*bn, torch::randn({1, 4, 1}), {}, true, 0.01));  // one value per channel
  bn->gather = [](const torch::Tensor& t) { return t; };
  EXPECT_FALSE(batch_norm_act_fusable(*bn, x, {}, true, 0.01));
  bn->gather = nullptr;
  bn->eval();
  EXPECT_FALSE(batch_norm_act_fusable(*bn, x, {}, true, 0.01));
  // Where it does not fuse, the composed ops run (and still check the shape).
  const auto before = leaves::nn::batch_norm_act_calls();
  auto y = batch_norm_act(bn, x, {}, true, 0.01);
  EXPECT_EQ(leaves::nn::batch_norm_act_calls(), before);
  EXPECT_TRUE(torch::allclose(y, torch::leaky_relu(bn(x), 0.01)));
  bn->train();
  EXPECT_THROW(batch_norm_act(bn, torch::randn({3, 5, 10}), {}, true, 0.01), std::invalid_argument);
}

// max_pool2 against LibTorch's max_pool1d(x, 2): values and gradient, odd and
// even lengths, ties (the first wins) and NaN (it wins), in float and double.
TEST(MaxPool2, MatchesLibTorchsMaxPoolIncludingTiesAndNaN) {
  torch::manual_seed(5);
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    for (int64_t L : {2, 3, 17, 64, 1001}) {
      SCOPED_TRACE(::testing::Message() << "L=" << L << " dtype=" << dtype);
      // Values on a coarse grid: many ties.
      auto x = torch::randint(-3, 4, {3, 5, L}).to(dtype);
      x[0][0][0] = std::numeric_limits<double>::quiet_NaN();
      if (L >= 4) x[1][2][3] = std::numeric_limits<double>::quiet_NaN();
      auto xa = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
      auto ya = leaves::nn::max_pool2(xa), yb = torch::max_pool1d(xb, 2);
      ASSERT_EQ(ya.sizes(), yb.sizes());
      EXPECT_TRUE(torch::equal(ya.isnan(), yb.isnan()));
      EXPECT_TRUE(torch::equal(ya.nan_to_num(), yb.nan_to_num()));
      auto up = torch::randn(ya.sizes(), dtype);
      (ya * up).sum().backward();
      (yb * up).sum().backward();
      EXPECT_TRUE(torch::equal(xa.grad(), xb.grad()));
    }
  }
}

// The whole encoder with and without the fused kernel: same outputs, input
// gradient, parameter gradients and running statistics, in double.
TEST(BatchNormAct, EncoderMatchesLibTorchsOps) {
  leaves::testing::ThreadsGuard two(2);
  torch::manual_seed(4);
  leaves::nn::ResNet1d a(leaves::nn::ResNet1dOptions(2).width(4));
  a->to(torch::kDouble);
  auto b = std::dynamic_pointer_cast<leaves::nn::ResNet1dImpl>(a->clone());
  a->options.execution().cpu_norm = leaves::engine::Kernels::Torch;
  EXPECT_EQ(b->options.execution().cpu_norm, leaves::engine::Kernels::Fused);
  auto x = torch::randn({6, 2, 75}, torch::kDouble);
  auto xa = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
  auto up = torch::randn({6, 32}, torch::kDouble);
  const auto before = leaves::nn::batch_norm_act_calls();
  auto ya = a->forward(xa);
  EXPECT_EQ(leaves::nn::batch_norm_act_calls(), before);
  auto yb = b->forward(xb);
  EXPECT_EQ(leaves::nn::batch_norm_act_calls() - before, 20);  // every BatchNorm of the encoder
  EXPECT_LT(rel_err(yb.detach(), ya.detach()), 1e-10);
  (ya * up).sum().backward();
  (yb * up).sum().backward();
  EXPECT_LT(rel_err(xb.grad(), xa.grad()), 1e-10);
  leaves::testing::expect_same_parameter_grads(*b, *a, 1e-9);
  const auto ba = a->named_buffers(), bb = b->named_buffers();
  for (const auto& item : ba) {
    SCOPED_TRACE(item.key());
    EXPECT_TRUE(torch::allclose(bb[item.key()].to(torch::kDouble), item.value().to(torch::kDouble), 1e-10, 1e-12));
  }
}

// A bias left out of x (the convolution's, see conv_bn_act): the result of
// bn(x + b) in training mode (values, gradients, running statistics), fused
// or not, with or without a residual; in evaluation mode too; a bias of the
// wrong shape is refused.
TEST(BatchNormAct, InputBiasIsTheBatchNormOfTheBiasedInput) {
  torch::manual_seed(9);
  const int64_t C = 5;
  auto x = torch::randn({4, C, 23}, torch::kDouble) * 2 + 1;
  auto res = torch::randn({4, C, 23}, torch::kDouble);
  auto up = torch::randn({4, C, 23}, torch::kDouble);
  auto bias = torch::randn({C}, torch::kDouble) * 3;
  for (bool training : {true, false}) {
    for (bool fused : {true, false}) {
      for (bool with_res : {false, true}) {
        SCOPED_TRACE(std::string(training ? "training" : "eval") + (fused ? " fused" : " ops") +
                     (with_res ? " residual" : ""));
        BatchNorm1d a(C), b(C);
        {
          torch::NoGradGuard g;
          a->weight.uniform_(0.5, 1.5), a->bias.uniform_(-0.5, 0.5);
          a->running_mean.uniform_(-1, 1), a->running_var.uniform_(0.5, 2);
        }
        a->to(torch::kDouble);
        b = BatchNorm1d(std::dynamic_pointer_cast<leaves::nn::BatchNorm1dImpl>(a->clone()));
        a->train(training), b->train(training);
        auto xa = (x + bias.view({1, C, 1})).requires_grad_(), xb = x.clone().requires_grad_();
        auto ra = with_res ? res.clone().requires_grad_() : torch::Tensor();
        auto rb = with_res ? res.clone().requires_grad_() : torch::Tensor();
        auto ya = batch_norm_act(a, xa, ra, true, 0.01, fused);
        auto yb = batch_norm_act(b, xb, rb, true, 0.01, fused, bias);
        EXPECT_LT(rel_err(yb.detach(), ya.detach()), 1e-12);
        (ya * up).sum().backward();
        (yb * up).sum().backward();
        EXPECT_LT(rel_err(xb.grad(), xa.grad()), 1e-11);
        if (with_res) EXPECT_LT(rel_err(rb.grad(), ra.grad()), 1e-11);
        EXPECT_LT(rel_err(b->weight.grad(), a->weight.grad()), 1e-11);
        EXPECT_LT(rel_err(b->bias.grad(), a->bias.grad()), 1e-11);
        EXPECT_LT(rel_err(b->running_mean, a->running_mean), 1e-14);
        EXPECT_LT(rel_err(b->running_var, a->running_var), 1e-14);
        EXPECT_EQ(b->num_batches_tracked.item<int64_t>(), a->num_batches_tracked.item<int64_t>());
      }
    }
  }
  BatchNorm1d bn(C);
  bn->to(torch::kDouble);
  EXPECT_THROW(batch_norm_act(bn, x, {}, true, 0.01, true, torch::zeros({C + 1}, torch::kDouble)),
               std::invalid_argument);
}

}  // namespace

// Recomputed statistics: the plain average of the batches' means and unbiased
// variances, whatever the running statistics held before; the momentum is
// restored, also when a batch throws; no batch changes nothing.
TEST(RecomputeBatchNormStatistics, AverageOfTheBatchStatistics) {
  torch::manual_seed(11);
  BatchNorm1d bn(3);
  bn->to(torch::kDouble);
  {
    torch::NoGradGuard g;
    bn->running_mean.fill_(5);
    bn->running_var.fill_(9);
  }
  std::vector<torch::Tensor> batches{torch::randn({4, 3, 10}, torch::kDouble) * 2 + 1,
                                     torch::randn({7, 3, 5}, torch::kDouble) - 3,
                                     torch::randn({2, 3, 20}, torch::kDouble) * 0.5};
  auto mean = torch::zeros({3}, torch::kDouble), var = torch::zeros({3}, torch::kDouble);
  for (const auto& b : batches) {
    mean += b.mean(std::vector<int64_t>{0, 2}) / 3;
    var += b.var(std::vector<int64_t>{0, 2}, /*unbiased=*/true) / 3;
  }
  bn->train();
  torch::NoGradGuard no_grad;
  leaves::nn::recompute_batchnorm_statistics(*bn, [&](int64_t i) { bn->forward(batches[i]); }, 3);
  EXPECT_TRUE(torch::allclose(bn->running_mean, mean, 1e-12, 1e-12)) << bn->running_mean << mean;
  EXPECT_TRUE(torch::allclose(bn->running_var, var, 1e-12, 1e-12)) << bn->running_var << var;
  EXPECT_EQ(bn->momentum, 0.1);
  auto before = bn->running_mean.clone();
  leaves::nn::recompute_batchnorm_statistics(*bn, [&](int64_t) { FAIL() << "no batch to run"; }, 0);
  EXPECT_TRUE(torch::equal(bn->running_mean, before));
  EXPECT_THROW(leaves::nn::recompute_batchnorm_statistics(
                   *bn, [&](int64_t) -> void { throw std::runtime_error("bad batch"); }, 2),
               std::runtime_error);
  EXPECT_EQ(bn->momentum, 0.1);
}

// The whole encoder, its convolution biases folded (the default): statistics
// recomputed from one batch make evaluation mode compute what training mode
// computes on that batch, up to the unbiased variance's n / (n - 1); with the
// running averages of a few training steps it computes something else.
TEST(RecomputeBatchNormStatistics, EvaluationModeThenMatchesTheBatch) {
  torch::manual_seed(12);
  leaves::nn::ResNet1d enc(leaves::nn::ResNet1dOptions(2).width(4));
  enc->to(torch::kDouble);
  auto x = torch::randn({16, 2, 256}, torch::kDouble) * 3 + 2;
  torch::NoGradGuard no_grad;
  enc->train();
  auto train_out = enc->forward(x);
  enc->eval();
  const double stale = rel_err(enc->forward(x), train_out);
  EXPECT_GT(stale, 0.1);  // one step of running averages from (0, 1)
  enc->train();
  leaves::nn::recompute_batchnorm_statistics(*enc, [&](int64_t) { enc->forward(x); }, 1);
  enc->eval();
  const double fresh = rel_err(enc->forward(x), train_out);
  EXPECT_LT(fresh, 2e-2) << "stale " << stale;
}
