#include "leaves/data/dataset.h"

#include <cmath>
#include <stdexcept>

namespace leaves::data {

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

Dataset Dataset::subset(const torch::Tensor& index) const {
  Dataset d = *this;
  d.x = x.index_select(0, index);
  d.y = y.index_select(0, index);
  if (targets.defined()) d.targets = targets.index_select(0, index);
  return d;
}

Splits stratified_split(const Dataset& all, double val, double test, uint64_t seed) {
  if (!(val >= 0 && test >= 0 && val + test < 1)) {
    throw std::invalid_argument("stratified_split: need val, test >= 0 and val + test < 1");
  }
  auto gen = at::detail::createCPUGenerator(seed);
  std::vector<int64_t> tr, va, te;
  const int64_t classes = all.y.numel() ? all.y.max().item<int64_t>() + 1 : 0;
  for (int64_t c = 0; c < classes; ++c) {
    auto members = torch::nonzero(all.y == c).flatten();
    const int64_t n = members.numel();
    auto order = members.index_select(0, torch::randperm(n, gen, torch::kLong));
    const int64_t n_test = static_cast<int64_t>(std::round(n * test));
    const int64_t n_val = static_cast<int64_t>(std::round(n * val));
    auto a = order.accessor<int64_t, 1>();
    for (int64_t i = 0; i < n; ++i) (i < n_test ? te : i < n_test + n_val ? va : tr).push_back(a[i]);
  }
  auto idx = [](std::vector<int64_t>& v) {
    std::sort(v.begin(), v.end());
    return torch::tensor(v, torch::kLong);
  };
  return {all.subset(idx(tr)), all.subset(idx(va)), all.subset(idx(te))};
}

}  // namespace leaves::data
