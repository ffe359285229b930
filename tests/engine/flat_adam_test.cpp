// engine::FlatAdam against torch::optim::Adam / AdamW, and the learning-rate schedule.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

#include "leaves/engine/flat_adam.h"
#include "testing.h"

using namespace leaves;
using namespace leaves::engine;

TEST(FlatAdam, MatchesTorchAdamOverSeveralStepsOnTensorsOfMixedShapes) {
  torch::manual_seed(5);
  const std::vector<std::vector<int64_t>> shapes{{7, 3, 5}, {}, {11}, {4, 4}};
  std::vector<torch::Tensor> ours, theirs, initial;
  for (const auto& s : shapes) {
    auto v = torch::randn(s);
    initial.push_back(v);
    ours.push_back(v.clone().requires_grad_(true));
    theirs.push_back(v.clone().requires_grad_(true));
  }
  FlatAdam flat(ours, FlatAdam::Options{3e-3});
  torch::optim::Adam reference(theirs, torch::optim::AdamOptions(3e-3));
  for (int step = 0; step < 6; ++step) {
    flat.zero_grad();
    reference.zero_grad();
    for (size_t i = 0; i < shapes.size(); ++i) {
      // Gradients of different scales, some exactly zero.
      auto g = torch::randn(shapes[i]) * std::pow(10.0, static_cast<double>(i) - 2);
      if (step == 2) g.zero_();
      ours[i].mutable_grad().add_(g);  // in place: as backward accumulates
      theirs[i].mutable_grad() = g.clone();
    }
    flat.step();
    reference.step();
  }
  EXPECT_EQ(flat.steps(), 6);
  for (size_t i = 0; i < shapes.size(); ++i) {
    const double scale = theirs[i].abs().max().item<double>();
    EXPECT_LE((ours[i] - theirs[i]).abs().max().item<double>(), 1e-6 * scale + 1e-7) << "tensor " << i;
    EXPECT_GT((ours[i] - initial[i]).abs().max().item<double>(), 1e-3) << "tensor " << i << " never moved";
  }
}

TEST(FlatAdam, ParametersAreViewsAndAreReboundWhenSomethingReplacesTheirStorage) {
  auto w = torch::ones({3}).requires_grad_(true);
  auto b = torch::zeros({2}).requires_grad_(true);
  FlatAdam opt({w, b}, FlatAdam::Options{0.1});
  EXPECT_TRUE(torch::equal(w, torch::ones({3})));  // values kept
  // A loaded state rebinds a parameter to new storage (as Module::load does).
  {
    torch::NoGradGuard g;
    w.set_(torch::full({3}, 2.0));
  }
  opt.zero_grad();
  (w * torch::tensor({1.0f, -1.0f, 0.0f})).sum().backward();
  ASSERT_TRUE(w.grad().defined());
  opt.step();
  // Adam's first step moves each coordinate by lr against the gradient's sign.
  EXPECT_NEAR(w[0].item<double>(), 2.0 - 0.1, 1e-6);
  EXPECT_NEAR(w[1].item<double>(), 2.0 + 0.1, 1e-6);
  EXPECT_NEAR(w[2].item<double>(), 2.0, 1e-6);
  EXPECT_TRUE(torch::equal(b, torch::zeros({2})));
}

TEST(FlatAdam, RefusesMixedDevicesOrDtypesAndStateOfAnotherModel) {
  auto a = torch::zeros({2}).requires_grad_(true);
  auto d = torch::zeros({2}, torch::kDouble).requires_grad_(true);
  EXPECT_THROW(FlatAdam({a, d}, FlatAdam::Options{}), std::invalid_argument);
  FlatAdam small({torch::zeros({2}).requires_grad_(true)}, FlatAdam::Options{});
  FlatAdam large({torch::zeros({5}).requires_grad_(true)}, FlatAdam::Options{});
  torch::serialize::OutputArchive out;
  small.save(out);
  std::stringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  EXPECT_THROW(large.load(in), std::invalid_argument);
}

// Checkpoints written before the flat optimizer hold torch::optim::Adam's
// state: it is read, and training continues exactly as Adam would.
TEST(FlatAdam, ContinuesFromTheStateTorchAdamSaved) {
  torch::manual_seed(8);
  std::vector<torch::Tensor> ref{torch::randn({3, 4}).requires_grad_(true), torch::randn({5}).requires_grad_(true)};
  torch::optim::Adam adam(ref, torch::optim::AdamOptions(1e-2));
  auto grads = [](int step) {
    torch::manual_seed(100 + step);
    return std::vector<torch::Tensor>{torch::randn({3, 4}), torch::randn({5})};
  };
  for (int step = 0; step < 3; ++step) {
    auto g = grads(step);
    for (size_t i = 0; i < ref.size(); ++i) ref[i].mutable_grad() = g[i];
    adam.step();
  }
  torch::serialize::OutputArchive out;
  adam.save(out);
  std::stringstream bytes;
  out.save_to(bytes);
  std::vector<torch::Tensor> ours{ref[0].detach().clone().requires_grad_(true), ref[1].detach().clone().requires_grad_(true)};
  FlatAdam flat(ours, FlatAdam::Options{1e-2});
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  flat.load(in);
  EXPECT_EQ(flat.steps(), 3);
  for (int step = 3; step < 5; ++step) {
    auto g = grads(step);
    flat.zero_grad();
    for (size_t i = 0; i < ref.size(); ++i) {
      ref[i].mutable_grad() = g[i];
      ours[i].mutable_grad().add_(g[i]);
    }
    adam.step();
    flat.step();
  }
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_TRUE(torch::allclose(ours[i], ref[i], 1e-6, 1e-7)) << i;
  // State of another model is refused.
  FlatAdam other({torch::zeros({7}).requires_grad_(true)}, FlatAdam::Options{});
  torch::serialize::InputArchive again;
  std::stringstream copy(bytes.str());
  again.load_from(copy);
  EXPECT_THROW(other.load(again), std::invalid_argument);
}

TEST(FlatAdam, DecoupledWeightDecayAndASettableRateMatchTorchAdamW) {
  torch::manual_seed(3);
  auto a = torch::randn({5, 3}).requires_grad_(true);
  auto b = a.detach().clone().requires_grad_(true);
  FlatAdam::Options o;
  o.lr = 0.01;
  o.weight_decay = 0.1;
  FlatAdam flat({a}, o);
  torch::optim::AdamW reference({b}, torch::optim::AdamWOptions(0.01).weight_decay(0.1));
  for (int step = 0; step < 6; ++step) {
    const double rate = 0.01 * lr_factor("cosine", step, 6, 2);
    flat.set_lr(rate);
    static_cast<torch::optim::AdamWOptions&>(reference.param_groups()[0].options()).lr(rate);
    flat.zero_grad();
    reference.zero_grad();
    (a * a).sum().backward();
    (b * b).sum().backward();
    flat.step();
    reference.step();
  }
  EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-7)) << (a - b).abs().max().item<double>();
  EXPECT_THROW(flat.set_lr(-1), std::invalid_argument);
}

TEST(Schedule, WarmupThenHalfACosineToZero) {
  EXPECT_DOUBLE_EQ(lr_factor("cosine", 0, 100, 10), 0.1);
  EXPECT_DOUBLE_EQ(lr_factor("cosine", 9, 100, 10), 1.0);
  EXPECT_DOUBLE_EQ(lr_factor("cosine", 10, 100, 10), 1.0);
  EXPECT_NEAR(lr_factor("cosine", 55, 100, 10), 0.5, 1e-12);  // half way through the decay
  EXPECT_NEAR(lr_factor("cosine", 100, 100, 10), 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(lr_factor("constant", 0, 100, 4), 0.25);
  EXPECT_DOUBLE_EQ(lr_factor("constant", 99, 100, 4), 1.0);
  EXPECT_DOUBLE_EQ(lr_factor("cosine", 0, 100, 0), 1.0);
  EXPECT_THROW(lr_factor("step", 0, 10, 0), std::invalid_argument);
}
