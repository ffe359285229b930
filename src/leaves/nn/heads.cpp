#include "leaves/nn/heads.h"

#include <stdexcept>

namespace leaves::nn {

ProjectionHeadImpl::ProjectionHeadImpl(const ProjectionHeadOptions& options_) : options(options_) { reset(); }

void ProjectionHeadImpl::reset() {
  const auto& o = options;
  if (o.input_dim() < 1 || o.output_dim() < 1 || o.hidden() < 0) {
    throw std::invalid_argument("ProjectionHead: dimensions must be positive (hidden may be 0)");
  }
  net = torch::nn::Sequential();
  if (o.hidden() > 0) {
    net->push_back(torch::nn::Linear(o.input_dim(), o.hidden()));
    net->push_back(torch::nn::ReLU());
    net->push_back(torch::nn::Linear(o.hidden(), o.output_dim()));
  } else {
    net->push_back(torch::nn::Linear(o.input_dim(), o.output_dim()));
  }
  net = register_module("net", net);
}

torch::Tensor ProjectionHeadImpl::forward(const torch::Tensor& h) { return net->forward(h); }

}  // namespace leaves::nn
