#include "leaves/data/dataset.h"

#include <algorithm>
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

Dataset concatenate(const Dataset& a, const Dataset& b) {
  if (b.size() == 0) return a;
  if (a.size() == 0) return b;
  if (a.channels() != b.channels() || a.length() != b.length() || a.class_names != b.class_names ||
      a.targets.defined() != b.targets.defined()) {
    throw std::invalid_argument("cannot join " + a.name + " and " + b.name +
                                ": their channels, lengths or classes differ");
  }
  Dataset d = a;
  d.x = torch::cat({a.x, b.x});
  d.y = torch::cat({a.y, b.y});
  if (a.targets.defined()) d.targets = torch::cat({a.targets, b.targets});
  return d;
}

Dataset preprocess(const Dataset& in, const Preprocess& p) {
  Dataset d = in;
  if (d.channel_names.empty())
    for (int64_t c = 0; c < d.channels(); ++c) d.channel_names.push_back("ch" + std::to_string(c));
  if (!p.select.empty()) {
    std::vector<int64_t> idx;
    for (const auto& name : p.select) {
      auto it = std::find(d.channel_names.begin(), d.channel_names.end(), name);
      if (it == d.channel_names.end()) {
        std::string have;
        for (const auto& n : d.channel_names) have += (have.empty() ? "" : ", ") + n;
        throw std::invalid_argument("select: no channel '" + name + "' in " + d.name + " (it has " + have + ")");
      }
      idx.push_back(it - d.channel_names.begin());
    }
    d.x = d.x.index_select(1, torch::tensor(idx, torch::kLong));
    d.channel_names = p.select;
  }
  if (p.resample > 0 && p.resample != d.rate) {
    if (d.rate <= 0) throw std::invalid_argument("resample: the sampling rate of " + d.name + " is not known");
    const int64_t L = d.length();
    const int64_t M = std::max<int64_t>(2, static_cast<int64_t>(std::llround(L * p.resample / d.rate)));
    if (d.size() > 0 && L > 1) {
      auto pos = torch::linspace(0, static_cast<double>(L - 1), M, torch::kDouble);
      auto i0 = pos.floor().clamp_max(static_cast<double>(L - 2));
      auto f = (pos - i0).to(d.x.scalar_type());
      auto lo = i0.to(torch::kLong);
      d.x = d.x.index_select(2, lo) * (1 - f) + d.x.index_select(2, lo + 1) * f;
    }
    d.rate = p.resample;
  }
  if (p.normalize == "zscore") {
    d.x = (d.x - d.x.mean(2, true)) / d.x.std(2, true, true).clamp_min(1e-8);
  } else if (p.normalize == "minmax") {
    auto lo = std::get<0>(d.x.min(2, true)), hi = std::get<0>(d.x.max(2, true));
    d.x = (d.x - lo) / (hi - lo).clamp_min(1e-8);
  } else if (p.normalize != "none") {
    throw std::invalid_argument("normalize must be none, zscore or minmax, got '" + p.normalize + "'");
  }
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
