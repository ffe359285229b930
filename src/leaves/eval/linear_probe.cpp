#include "leaves/eval/linear_probe.h"

#include <stdexcept>

namespace leaves::eval {

torch::Tensor embed(nn::ResNet1d& encoder, const torch::Tensor& x, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = encoder->is_training();
  encoder->eval();
  const auto device = encoder->parameters().front().device();
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < x.size(0); i += batch_size) {
    const int64_t n = std::min(batch_size, x.size(0) - i);
    parts.push_back(encoder(x.narrow(0, i, n).to(device)).cpu());
  }
  encoder->train(was_training);
  return torch::cat(parts, 0);
}

torch::Tensor LinearProbe::predict(const torch::Tensor& features) const {
  torch::NoGradGuard no_grad;
  auto z = (features.to(torch::kFloat) - mean) / std;
  return (z.matmul(weight) + bias).argmax(1);
}

torch::Tensor LinearProbe::probabilities(const torch::Tensor& features) const {
  torch::NoGradGuard no_grad;
  auto z = (features.to(torch::kFloat) - mean) / std;
  return torch::softmax(z.matmul(weight) + bias, 1);
}

double LinearProbe::accuracy(const torch::Tensor& features, const torch::Tensor& labels) const {
  return predict(features).eq(labels).to(torch::kDouble).mean().item<double>();
}

LinearProbe fit_linear_probe(const torch::Tensor& features, const torch::Tensor& labels,
                             const LinearProbeOptions& o) {
  if (features.dim() != 2 || labels.dim() != 1 || features.size(0) != labels.size(0) || features.size(0) < 2) {
    throw std::invalid_argument("fit_linear_probe: expected features [N, D] and labels [N] with N >= 2");
  }
  const int64_t D = features.size(1);
  const int64_t K = labels.max().item<int64_t>() + 1;
  LinearProbe probe;
  auto f = features.to(torch::kFloat);
  probe.mean = f.mean(0);
  probe.std = f.std(0).clamp_min(1e-6);
  auto z = (f - probe.mean) / probe.std;
  auto W = torch::zeros({D, K}, torch::requires_grad());
  auto b = torch::zeros({K}, torch::requires_grad());
  torch::optim::LBFGS opt({W, b}, torch::optim::LBFGSOptions(1.0).max_iter(o.iterations()).line_search_fn("strong_wolfe"));
  auto closure = [&]() {
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(z.matmul(W) + b, labels) + o.l2() * W.pow(2).sum();
    loss.backward();
    return loss;
  };
  opt.step(closure);
  probe.weight = W.detach();
  probe.bias = b.detach();
  return probe;
}

torch::Tensor knn_probabilities(const torch::Tensor& train_features, const torch::Tensor& train_labels,
                                const torch::Tensor& query, int64_t k, int64_t classes) {
  if (train_features.dim() != 2 || query.dim() != 2 || train_features.size(1) != query.size(1) ||
      train_labels.size(0) != train_features.size(0)) {
    throw std::invalid_argument("knn: expected training features [N, D], labels [N] and queries [M, D]");
  }
  if (k < 1 || k > train_features.size(0)) {
    throw std::invalid_argument("knn: k = " + std::to_string(k) + " must be in [1, " +
                                std::to_string(train_features.size(0)) + "]");
  }
  torch::NoGradGuard no_grad;
  auto a = torch::nn::functional::normalize(train_features.to(torch::kFloat), torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto q = torch::nn::functional::normalize(query.to(torch::kFloat), torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto nearest = std::get<1>(q.matmul(a.t()).topk(k, 1));                   // [M, k]
  auto votes = train_labels.to(torch::kLong).index_select(0, nearest.flatten()).view({q.size(0), k});
  auto probs = torch::zeros({q.size(0), classes}, torch::kDouble);
  probs.scatter_add_(1, votes, torch::ones({q.size(0), k}, torch::kDouble));
  return probs / k;
}

}  // namespace leaves::eval
