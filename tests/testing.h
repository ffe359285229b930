// Helpers shared by the tests: finite-difference gradient checks.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace leaves::testing {

/// Compares autograd gradients of `sum(w * f())` with central finite differences
/// for every tensor in `wrt` (double precision leaves that require grad), for at
/// most `max_entries` entries per tensor (spread evenly). `f` must be a
/// deterministic function of `wrt` (all randomness held fixed).
inline void expect_gradients_match(const std::function<torch::Tensor()>& f, const std::vector<torch::Tensor>& wrt,
                                   const std::vector<std::string>& names, double h = 1e-6, double rtol = 1e-4,
                                   double atol = 1e-6, int64_t max_entries = 24) {
  auto out = f();
  auto w = torch::rand(out.sizes(), torch::TensorOptions().dtype(torch::kDouble).device(out.device()));
  auto objective = [&](const torch::Tensor& o) { return (o.to(torch::kDouble) * w).sum(); };
  for (auto& t : wrt) {
    if (t.grad().defined()) t.mutable_grad().zero_();
  }
  auto grads = torch::autograd::grad({objective(out)}, wrt, {}, false, false, /*allow_unused=*/true);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < wrt.size(); ++i) {
    auto t = wrt[i];
    ASSERT_EQ(t.scalar_type(), torch::kDouble) << names[i];
    ASSERT_TRUE(grads[i].defined()) << names[i] << " received no gradient";
    auto g = grads[i].flatten();
    auto flat = t.view({-1});
    const int64_t n = flat.numel();
    const int64_t step = std::max<int64_t>(1, n / max_entries);
    for (int64_t j = 0; j < n; j += step) {
      const double v = flat[j].item<double>();
      flat[j] = v + h;
      const double up = objective(f()).item<double>();
      flat[j] = v - h;
      const double down = objective(f()).item<double>();
      flat[j] = v;
      const double fd = (up - down) / (2 * h);
      const double ad = g[j].item<double>();
      EXPECT_NEAR(ad, fd, atol + rtol * std::abs(fd)) << names[i] << "[" << j << "]";
    }
  }
}

/// A fresh, empty-named scratch directory path under the system temp folder
/// (removed if it exists; not created).
inline std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("leaves-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  return d;
}

/// `../shared/data` beside the repository (or $LEAVES_SHARED_DIR/data): found by
/// walking up from the test binary. Empty when absent.
inline std::filesystem::path shared_data_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("LEAVES_SHARED_DIR")) {
    if (fs::is_directory(fs::path(env) / "data")) return fs::path(env) / "data";
  }
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (int up = 0; up < 5 && !p.empty(); ++up, p = p.parent_path()) {
    if (fs::is_directory(p / ".." / "shared" / "data")) return fs::canonical(p / ".." / "shared" / "data");
    if (p == p.root_path()) break;
  }
  return {};
}

/// Skips the current test with a message when ../shared/data is absent.
#define LEAVES_SHARED_DATA_OR_SKIP(var)                                                 \
  const auto var = leaves::testing::shared_data_dir();                                  \
  if (var.empty()) GTEST_SKIP() << "../shared/data not found beside the repository: " \
                                   "real-data test skipped"

/// Expects `f` to throw an `E` whose message contains `part`.
template <class E>
void expect_error(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "expected an error mentioning '" << part << "'";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

/// Expects `f` to throw std::invalid_argument whose message contains `part`.
inline void expect_invalid_argument(const std::function<void()>& f, const std::string& part) {
  expect_error<std::invalid_argument>(f, part);
}

/// Expects `f` to throw std::runtime_error whose message contains `part`.
inline void expect_runtime_error(const std::function<void()>& f, const std::string& part) {
  expect_error<std::runtime_error>(f, part);
}

/// A smooth random test signal `[B, C, L]` in double precision.
inline torch::Tensor smooth_signal(int64_t B, int64_t C, int64_t L, torch::Dtype dtype = torch::kDouble) {
  auto t = torch::linspace(0, 1, L, torch::kDouble).view({1, 1, L});
  auto f = 1 + 3 * torch::rand({B, C, 1}, torch::kDouble);
  auto p = 6.28 * torch::rand({B, C, 1}, torch::kDouble);
  return (torch::sin(6.28 * f * t + p) + 0.3 * torch::cos(17 * t + p)).to(dtype);
}

/// Sets LibTorch's intra-op threads for a scope and restores them: its default
/// is the number of physical cores, 1 on some VMs, where the kernels' parallel
/// paths (per-thread slots, row splits) would otherwise go untested.
struct ThreadsGuard {
  explicit ThreadsGuard(int n) : saved(at::get_num_threads()) { at::set_num_threads(n); }
  ~ThreadsGuard() { at::set_num_threads(saved); }
  ThreadsGuard(const ThreadsGuard&) = delete;
  ThreadsGuard& operator=(const ThreadsGuard&) = delete;
  int saved;
};

/// The parameter gradients of two copies of a module after the same backward
/// pass, each relative to the reference's largest value with a floor of 1e-4
/// (the conv biases in front of a BatchNorm have gradients of rounding size
/// only, ~1e-14 in double).
inline void expect_same_parameter_grads(const torch::nn::Module& module, const torch::nn::Module& reference,
                                        double tol) {
  const auto got = module.named_parameters(), ref = reference.named_parameters();
  // A parameter that the computation did not use (a convolution bias left to
  // the BatchNorm after it) has no gradient: its gradient is zero.
  auto grad_of = [](const torch::Tensor& p) {
    return p.grad().defined() ? p.grad().to(torch::kDouble) : torch::zeros(p.sizes(), torch::kDouble);
  };
  for (const auto& item : ref) {
    SCOPED_TRACE(item.key());
    const auto r = grad_of(item.value());
    const auto g = grad_of(got[item.key()]);
    EXPECT_LT((g - r).abs().max().item<double>() / std::max(1e-4, r.abs().max().item<double>()), tol);
  }
}

}  // namespace leaves::testing
