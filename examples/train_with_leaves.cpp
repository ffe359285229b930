// Your own training loop with the LEAVES module as its augmentation: a small
// encoder learns SimCLR representations of this program's own series while
// LEAVES' intensities are trained adversarially against it (paper Eq. 4),
// with one backward pass: the generator's gradients are negated before its step.
//
//   train_with_leaves [STEPS]
//
// It prints the loss on views held fixed (the same draw from the first
// generator every time) before and after training, and the learned
// intensities; it exits 1 if training did not lower that loss.
#include <cstdlib>
#include <exception>
#include <iostream>

#include "leaves/engine/process.h"
#include "leaves/loss/nt_xent.h"
#include "leaves/nn/heads.h"
#include "leaves/nn/resnet1d.h"
#include "leaves/views/leaves.h"

namespace {

/// 64 series of 128 samples: noisy sines of two frequencies and square waves.
torch::Tensor own_data() {
  const auto t = torch::linspace(0, 1, 128).unsqueeze(0);
  const auto phase = torch::rand({64, 1}) * 6.2832;
  const auto freq = torch::where(torch::arange(64).remainder(2).unsqueeze(1) == 0, torch::full({64, 1}, 3.0),
                                 torch::full({64, 1}, 7.0));
  auto x = torch::sin(6.2832 * freq * t + phase);
  x.slice(0, 0, 16) = torch::sign(x.slice(0, 0, 16));
  return (x + 0.05 * torch::randn_like(x)).unsqueeze(1);  // [64, 1, 128]
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 30;
  if (steps < 1) {
    std::cerr << "usage: train_with_leaves [STEPS >= 1]\n";
    return 2;
  }
  leaves::engine::use_all_cores();  // as the leaves tool does (unless OMP_NUM_THREADS is set): the same threads, the same sums
  try {
    torch::manual_seed(0);
    const auto x = own_data();
    leaves::views::Leaves generator(leaves::views::LeavesOptions().mixture_components(6));
    leaves::nn::ResNet1d encoder(leaves::nn::ResNet1dOptions(1).width(8));
    leaves::nn::ProjectionHead head(leaves::nn::ProjectionHeadOptions(encoder->output_dim()).hidden(64).output_dim(32));

    std::vector<torch::Tensor> model_params = encoder->parameters();
    for (const auto& p : head->parameters()) model_params.push_back(p);
    torch::optim::Adam model_opt(model_params, torch::optim::AdamOptions(3e-3));
    torch::optim::Adam generator_opt(generator->parameters(), torch::optim::AdamOptions(0.05));

    auto loss_of = [&](const torch::Tensor& v1, const torch::Tensor& v2) {
      return leaves::loss::nt_xent(head(encoder(v1)), head(encoder(v2)));  // temperature 0.05
    };
    torch::Tensor fixed1, fixed2;  // views from the untrained generator, one draw, kept
    {
      torch::NoGradGuard no_grad;
      fixed1 = generator(x);
      fixed2 = generator(x);
    }
    auto held_out_loss = [&] {
      torch::NoGradGuard no_grad;
      encoder->eval();
      head->eval();
      const double l = loss_of(fixed1, fixed2).item<double>();
      encoder->train();
      head->train();
      return l;
    };
    const double before = held_out_loss();
    for (int step = 0; step < steps; ++step) {
      const auto loss = loss_of(generator(x), generator(x));
      model_opt.zero_grad();
      generator_opt.zero_grad();
      loss.backward();  // one backward pass for both players
      for (auto& p : generator->parameters()) p.mutable_grad().neg_();  // the generator maximises the loss
      model_opt.step();
      generator_opt.step();
      if (step % 10 == 0 || step == steps - 1)
        std::cout << "step " << step << "  loss " << loss.item<double>() << "\n";
    }
    const double after = held_out_loss();
    std::cout << "loss on fixed views: " << before << " -> " << after << "\n";
    for (const auto& [name, value] : leaves::views::named_report(*generator)) std::cout << "  " << name << " " << value << "\n";
    return after < before ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "train_with_leaves: " << e.what() << "\n";
    return 1;
  }
}
