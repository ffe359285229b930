#include "leaves/loss/nt_xent.h"

#include <sstream>
#include <stdexcept>

namespace leaves::loss {

torch::Tensor nt_xent(const torch::Tensor& z1, const torch::Tensor& z2, double tau) {
  if (z1.dim() != 2 || z1.sizes() != z2.sizes() || z1.size(0) < 1) {
    std::ostringstream s;
    s << "nt_xent: expected two [N, D] embeddings of the same shape, got " << z1.sizes() << " and " << z2.sizes();
    throw std::invalid_argument(s.str());
  }
  if (!(tau > 0)) throw std::invalid_argument("nt_xent: temperature tau must be > 0");
  const int64_t N = z1.size(0);
  auto up = [](const torch::Tensor& t) {
    return t.scalar_type() == torch::kDouble ? t : t.to(torch::kFloat);
  };
  auto z = torch::nn::functional::normalize(torch::cat({up(z1), up(z2)}, 0),
                                            torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-12));
  auto logits = z.matmul(z.t()) / tau;                                      // [2N, 2N]
  auto eye = torch::eye(2 * N, torch::TensorOptions().dtype(torch::kBool).device(z.device()));
  logits = logits.masked_fill(eye, -std::numeric_limits<double>::infinity());
  auto idx = torch::arange(2 * N, torch::TensorOptions().dtype(torch::kLong).device(z.device()));
  auto positive = (idx + N).remainder(2 * N);
  auto pos_logit = logits.gather(1, positive.unsqueeze(1)).squeeze(1);
  return (torch::logsumexp(logits, 1) - pos_logit).mean();
}

torch::Tensor nt_xent_rows(const torch::Tensor& z1, const torch::Tensor& z2, double tau, int64_t first,
                           int64_t count) {
  if (z1.dim() != 2 || z1.sizes() != z2.sizes() || z1.size(0) < 1) {
    std::ostringstream s;
    s << "nt_xent_rows: expected two [N, D] embeddings of the same shape, got " << z1.sizes() << " and " << z2.sizes();
    throw std::invalid_argument(s.str());
  }
  const int64_t N = z1.size(0);
  if (first < 0 || count < 1 || first + count > N) {
    throw std::invalid_argument("nt_xent_rows: rows [" + std::to_string(first) + ", " + std::to_string(first + count) +
                                ") are not within the " + std::to_string(N) + " pairs");
  }
  if (!(tau > 0)) throw std::invalid_argument("nt_xent: temperature tau must be > 0");
  auto up = [](const torch::Tensor& t) {
    return t.scalar_type() == torch::kDouble ? t : t.to(torch::kFloat);
  };
  auto z = torch::nn::functional::normalize(torch::cat({up(z1), up(z2)}, 0),
                                            torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-12));
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(z.device());
  auto own = torch::arange(first, first + count, opts);
  auto rows = torch::cat({own, own + N});                                   // [2c] anchors
  auto logits = z.index_select(0, rows).matmul(z.t()) / tau;                 // [2c, 2N]
  logits = logits.scatter(1, rows.unsqueeze(1), -std::numeric_limits<double>::infinity());  // not itself
  auto positive = (rows + N).remainder(2 * N);
  auto pos_logit = logits.gather(1, positive.unsqueeze(1)).squeeze(1);
  return (torch::logsumexp(logits, 1) - pos_logit).mean();
}

}  // namespace leaves::loss
