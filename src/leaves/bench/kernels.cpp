#include "leaves/bench/kernels.h"

#include <torch/torch.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "leaves/augment/permutation.h"
#include "leaves/compat.h"
#include "leaves/option_error.h"
#include "leaves/engine/cl_conv.h"
#include "leaves/nn/batchnorm.h"
#include "leaves/nn/resnet1d.h"

namespace leaves::bench {

namespace {
// ---------------------------------------------------------------------------
// `leaves bench norm`: the fused BatchNorm + residual + LeakyReLU
// (nn::batch_norm_act) against LibTorch's separate ops, at every BatchNorm
// shape of the encoder, forward + backward: the time of each, and the error
// of each against the same ops in float64 on the same inputs. The fused
// kernel passes where its error is at most twice LibTorch's own, plus a floor
// (1e-5 in fp32, 1e-2 in bf16/fp16); any other result exits 1.
// The options of the kernel benchmarks (`bench norm`, `bench conv`): the
// encoder's shapes at B rows of length L, and the timing.


struct NormCase {
  std::string name;
  int64_t C, L, per_step;  ///< per_step: how many BatchNorms of this kind one encoder forward has
  bool residual, activate;
};

// The encoder's BatchNorms (nn::ResNet1d): the stem at L, then four stages of
// width w, 2w, 4w, 8w at L / 2 (after the max-pool) and halving (stride 2).
std::vector<NormCase> encoder_norms(int64_t width, int64_t length) {
  std::vector<NormCase> cases{{"stem", width, length, 1, false, true}};
  int64_t L = length / 2;
  for (int s = 0; s < 4; ++s) {
    const int64_t C = width << s;
    if (s > 0) L = (L - 1) / 2 + 1;  // a 3-tap convolution, padding 1, stride 2
    const std::string stage = "stage" + std::to_string(s + 1);
    cases.push_back({stage + ".bn1", C, L, 2, false, true});
    cases.push_back({stage + ".bn2+residual", C, L, 2, true, true});
    if (s > 0) cases.push_back({stage + ".shortcut", C, L, 1, false, false});
  }
  return cases;
}

struct NormOutputs {
  std::vector<torch::Tensor> t;
  std::vector<const char*> names;  // of each of t
};

// Milliseconds per call of `fn`: `warmup` calls, then `iters` timed ones, the
// device synchronised around them.
template <typename Fn>
double ms_per_call(const torch::Device& device, int64_t warmup, int64_t iters, Fn fn) {
  for (int64_t i = 0; i < warmup; ++i) fn();
  compat::synchronize(device);
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < iters; ++i) fn();
  compat::synchronize(device);
  return 1e3 * seconds_since(t0) / iters;
}

NormOutputs run_norm_once(nn::BatchNorm1d bn, const torch::Tensor& x, const torch::Tensor& res,
                          const torch::Tensor& g, const NormCase& k, double slope, bool fused) {
  auto xi = x.detach().clone().requires_grad_(true);
  torch::Tensor ri = k.residual ? res.detach().clone().requires_grad_(true) : torch::Tensor();
  auto y = nn::batch_norm_act(bn, xi, ri, k.activate, slope, fused);
  y.backward(g);
  NormOutputs o;
  o.t = {y.detach(), xi.grad(), bn->weight.grad(), bn->bias.grad(), bn->running_mean.clone(),
         bn->running_var.clone()};
  o.names = {"y", "dx", "dweight", "dbias", "running_mean", "running_var"};
  if (k.residual) o.t.push_back(ri.grad()), o.names.push_back("dresidual");
  return o;
}

nn::BatchNorm1d copy_of(const nn::BatchNorm1d& bn) {
  return nn::BatchNorm1d(std::dynamic_pointer_cast<nn::BatchNorm1dImpl>(bn->clone()));
}

// max |a - ref| / max |ref| over every output; the worst output's name.
std::pair<double, std::string> norm_error(const NormOutputs& a, const NormOutputs& ref) {
  double worst = 0;
  std::string which = ref.names.at(0);
  for (size_t i = 0; i < ref.t.size(); ++i) {
    auto r = ref.t[i].to(torch::kCPU, torch::kDouble);
    auto d = (a.t[i].to(torch::kCPU, torch::kDouble) - r).abs().max().item<double>();
    const double scale = std::max(r.abs().max().item<double>(), 1e-30);
    if (!(d / scale <= worst)) worst = d / scale, which = ref.names.at(i);  // NaN is the worst
  }
  return {worst, which};
}

// The stem on CUDA: leaves' fused kernels (nn::fused_stem) against the
// encoder's separate ops (convolution, BatchNorm, LeakyReLU, max-pool), under
// bf16 autocast when `bf16`, and both against the separate ops in float64.
// Compared: the output, the input's gradient, the convolution's weight
// gradient, BatchNorm's gradients and running statistics (not the convolution
// bias's gradient: it is zero in exact arithmetic, so only rounding noise).
struct StemResult {
  double fused_ms, torch_ms, err_fused, err_torch;
  std::string worst_fused, worst_torch;
};

StemResult run_stem(const NormArgs& a, const torch::Device& device, bool bf16, int64_t iters, int64_t warmup) {
  const auto opts = torch::TensorOptions().device(device);
  auto x = (torch::randn({a.batch, a.in_channels, a.length}, opts) * 2 + 0.5).unsqueeze(2).contiguous(
      at::MemoryFormat::ChannelsLast);
  const int64_t C = a.width;
  torch::nn::Conv1d conv(torch::nn::Conv1dOptions(a.in_channels, C, 3).padding(1));
  nn::BatchNorm1d bn(C);
  {
    torch::NoGradGuard no_grad;
    bn->weight.normal_(1.0, 0.2);
    bn->bias.normal_(0.0, 0.2);
  }
  conv->to(device);
  bn->to(device);
  auto g = torch::randn({a.batch, C, 1, a.length / 2}, opts).contiguous(at::MemoryFormat::ChannelsLast);
  if (bf16) g = g.to(torch::kBFloat16);
  // One forward + backward; returns the compared outputs.
  auto once = [&](torch::nn::Conv1d c, nn::BatchNorm1d b, const torch::Tensor& input, bool fused, bool amp) {
    auto xi = input.detach().clone().requires_grad_(true);
    for (auto* t : {&c->weight, &c->bias, &b->weight, &b->bias}) t->mutable_grad() = torch::Tensor();
    torch::Tensor y;
    {
      compat::AutocastGuard guard(device, amp);
      if (fused) {
        y = nn::fused_stem(c, b, xi, a.slope);
      } else {
        y = nn::batch_norm_act(b, nn::conv_any_layout(c, xi), {}, true, a.slope, false);
        y = torch::max_pool2d(y, {1, 2}, {1, 2});
      }
    }
    y.backward(g.to(y.scalar_type()));
    NormOutputs o;
    o.t = {y.detach(), xi.grad(), c->weight.grad(), b->weight.grad(), b->bias.grad(), b->running_mean.clone(),
           b->running_var.clone()};
    o.names = {"y", "dx", "dconv_weight", "dweight", "dbias", "running_mean", "running_var"};
    return o;
  };
  auto conv_copy = [](const torch::nn::Conv1d& c) {
    return torch::nn::Conv1d(std::dynamic_pointer_cast<torch::nn::Conv1dImpl>(c->clone()));
  };
  auto ref_conv = conv_copy(conv);
  auto ref_bn = copy_of(bn);
  ref_conv->to(torch::kDouble);
  ref_bn->to(torch::kDouble);
  const auto ref = once(ref_conv, ref_bn, x.to(torch::kDouble), false, false);
  if (!nn::stem_fusable(conv, *bn, x, a.slope)) throw std::runtime_error("bench norm: the fused stem does not apply");
  const auto fused = once(conv_copy(conv), copy_of(bn), x, true, bf16);
  const auto plain = once(conv_copy(conv), copy_of(bn), x, false, bf16);
  StemResult r;
  std::tie(r.err_fused, r.worst_fused) = norm_error(fused, ref);
  std::tie(r.err_torch, r.worst_torch) = norm_error(plain, ref);
  for (int f = 0; f < 2; ++f) {
    auto c = conv_copy(conv);
    auto b = copy_of(bn);
    (f == 0 ? r.fused_ms : r.torch_ms) = ms_per_call(device, warmup, iters, [&] { once(c, b, x, f == 0, bf16); });
  }
  return r;
}

// The segment permutation's index and the relaxed estimator's products as the
// library runs them on `device` (leaves' kernels on CUDA, loops on the CPU)
// against LibTorch's operators (permutation_index_reference, K gathers and
// sums), at B rows of C x L and K = 5 segments: equal index, products within
// rounding; time of each. Returns whether it is ok.
bool check_permutation(const torch::Device& device, int64_t B, int64_t C, int64_t L, int64_t warmup, int64_t iters,
                       std::FILE* out) {
  const int64_t K = 5;
  const auto opts = torch::TensorOptions().device(device);
  auto counts = torch::randint(1, K + 1, {B}, opts.dtype(torch::kLong));
  auto keys = torch::rand({B, K}, opts);
  auto x = torch::randn({B, C, L}, opts), g = torch::randn({B, C, L}, opts);
  auto by_operators = [&] { return augment::relaxed_permutation_products_reference(g, x, keys); };
  const bool same_index =
      torch::equal(augment::permutation_index(counts, keys, L), augment::permutation_index_reference(counts, keys, L));
  auto want = by_operators().to(torch::kDouble);
  auto got = augment::relaxed_permutation_products(g, x, keys).to(torch::kDouble);
  const double err = ((got - want).abs().max() / want.abs().max().clamp_min(1e-30)).item<double>();
  const bool ok = same_index && err <= 1e-5;
  const double ms_index = ms_per_call(device, warmup, iters, [&] { augment::permutation_index(counts, keys, L); });
  const double ms_index_ops =
      ms_per_call(device, warmup, iters, [&] { augment::permutation_index_reference(counts, keys, L); });
  const double ms_products =
      ms_per_call(device, warmup, iters, [&] { augment::relaxed_permutation_products(g, x, keys); });
  const double ms_products_ops = ms_per_call(device, warmup, iters, by_operators);
  std::fprintf(out, "bench norm permutation         B=%lld C=%lld L=%lld K=%lld path=%s index_ms=%.4f (operators %.4f) "
              "products_ms=%.4f (operators %.4f) index %s, products rel_err=%.2e %s\n",
              static_cast<long long>(B), static_cast<long long>(C), static_cast<long long>(L),
              static_cast<long long>(K), augment::permutation_kernels() ? "own" : "operators", ms_index,
              ms_index_ops, ms_products, ms_products_ops,
              same_index ? "equal" : "DIFFERS", err, ok ? "ok" : "MISMATCH");
  return ok;
}

}  // namespace

int bench_norm(const NormArgs& a, std::FILE* out) {
  if (a.iters < 1 || a.warmup < 0) throw OptionError("iters", " must be >= 1 and warmup >= 0");
  const auto device = train::resolve_device(a.device);
  const std::string prec = a.precision == "auto" ? (device.is_cuda() ? "bf16" : "fp32") : a.precision;
  const auto dtype = prec == "bf16" ? torch::kBFloat16 : prec == "fp16" ? torch::kHalf : torch::kFloat;
  if (device.is_cuda() && !nn::batch_norm_act_cuda_built()) {
    throw OptionError("device", " " + a.device + ": this build has no CUDA kernels of its own (configure "
                                "with a CUDA LibTorch and nvcc, LEAVES_CUDA_KERNELS=ON)");
  }
  if (!device.is_cuda() && dtype != torch::kFloat) {
    throw OptionError("precision", " " + prec + ": the CPU kernel is fused in fp32 (and fp64) only");
  }
  const double floor = dtype == torch::kFloat ? 1e-5 : 1e-2;
  torch::manual_seed(a.seed);
  const auto opts = torch::TensorOptions().device(device);
  double fused_total = 0, torch_total = 0;
  int failed = 0;
  for (const auto& k : encoder_norms(a.width, a.length)) {
    // Channels-last [B, C, 1, L] on CUDA (how the encoder runs there), [B, C, L] on the CPU.
    auto make = [&](double sd, double mean) {
      auto t = torch::randn({a.batch, k.C, k.L}, opts) * sd + mean;
      if (device.is_cuda()) t = t.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast);
      return t.to(dtype);
    };
    const auto x = make(2.0, 0.5), res = make(1.0, 0.0), g = make(1.0, 0.0);
    nn::BatchNorm1d bn(k.C);
    {
      torch::NoGradGuard no_grad;
      bn->weight.normal_(1.0, 0.2);
      bn->bias.normal_(0.0, 0.2);
      bn->running_mean.normal_(0.0, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
    }
    bn->to(device);
    auto ref_bn = copy_of(bn);
    ref_bn->to(torch::kDouble);
    const auto ref = run_norm_once(ref_bn, x.to(torch::kDouble), res.to(torch::kDouble), g.to(torch::kDouble), k,
                                   a.slope, false);
    const int64_t calls = nn::batch_norm_act_calls();
    const auto fused = run_norm_once(copy_of(bn), x, res, g, k, a.slope, true);
    if (nn::batch_norm_act_calls() == calls) {
      throw std::runtime_error("bench norm: the fused kernel did not take case " + k.name);
    }
    const auto plain = run_norm_once(copy_of(bn), x, res, g, k, a.slope, false);
    const auto ef = norm_error(fused, ref), et = norm_error(plain, ref);
    const bool ok = ef.first <= 2 * et.first + floor;
    failed += !ok;

    double ms[2];
    for (int f = 0; f < 2; ++f) {
      auto b = copy_of(bn);
      auto xi = x.detach().clone().requires_grad_(true);
      torch::Tensor ri = k.residual ? res.detach().clone().requires_grad_(true) : torch::Tensor();
      auto once = [&] {
        for (auto* t : {&xi, &ri, &b->weight, &b->bias}) {
          if (t->defined()) t->mutable_grad() = torch::Tensor();
        }
        nn::batch_norm_act(b, xi, ri, k.activate, a.slope, f == 0).backward(g);
      };
      ms[f] = ms_per_call(device, a.warmup, a.iters, once);
    }
    fused_total += k.per_step * ms[0];
    torch_total += k.per_step * ms[1];
    std::fprintf(out, "bench norm %-20s B=%lld C=%lld L=%lld dtype=%s fused_ms=%.4f torch_ms=%.4f speedup=%.2f "
                "err_fused=%.2e (%s) err_torch=%.2e (%s) %s\n",
                k.name.c_str(), static_cast<long long>(a.batch), static_cast<long long>(k.C),
                static_cast<long long>(k.L), prec.c_str(), ms[0], ms[1], ms[1] / ms[0], ef.first, ef.second.c_str(),
                et.first, et.second.c_str(), ok ? "ok" : "MISMATCH");
  }
  // The augmentations' permutation kernels (fp32, as the views run), at the
  // encoder's input shape.
  failed += !check_permutation(device, a.batch, a.in_channels, a.length, a.warmup, a.iters, out);
  if (device.is_cuda() && (dtype == torch::kFloat || dtype == torch::kBFloat16)) {
    // The stem as one kernel pair: convolution, BatchNorm, LeakyReLU and max-pool.
    const auto r = run_stem(a, device, dtype == torch::kBFloat16, a.iters, a.warmup);
    const bool ok = r.err_fused <= 2 * r.err_torch + floor;
    failed += !ok;
    fused_total += r.fused_ms;
    torch_total += r.torch_ms;
    std::fprintf(out, "bench norm %-20s B=%lld Ci=%lld C=%lld L=%lld dtype=%s fused_ms=%.4f torch_ms=%.4f speedup=%.2f "
                "err_fused=%.2e (%s) err_torch=%.2e (%s) %s\n",
                "stem+conv+pool", static_cast<long long>(a.batch), static_cast<long long>(a.in_channels),
                static_cast<long long>(a.width), static_cast<long long>(a.length), prec.c_str(), r.fused_ms,
                r.torch_ms, r.torch_ms / r.fused_ms, r.err_fused, r.worst_fused.c_str(), r.err_torch,
                r.worst_torch.c_str(), ok ? "ok" : "MISMATCH");
  }
  std::fprintf(out, "bench norm total device=%s name=\"%s\" dtype=%s fused_ms=%.3f torch_ms=%.3f speedup=%.2f "
              "(forward + backward of every BatchNorm of one encoder pass, B=%lld) %s\n",
              device.str().c_str(), compat::device_name(device).c_str(), prec.c_str(), fused_total, torch_total,
              torch_total / fused_total, static_cast<long long>(a.batch),
              failed ? "MISMATCH: the fused kernel's error exceeds twice LibTorch's" : "all ok");
  return failed ? 1 : 0;
}

namespace {
// ---------------------------------------------------------------------------
// `leaves bench conv`: each convolution of the encoder as LibTorch runs it on
// the device (cuDNN on CUDA, channels-last [B, C, 1, L] in bf16 as the
// encoder runs there; oneDNN on the CPU, [B, C, L] in fp32), forward, input
// gradient and weight gradient apart, against a matrix product of the same
// arithmetic on the same device (cuBLAS, or the CPU's BLAS): [B Lout, k Ci] x
// [k Ci, Co] and its two transposed forms. The matrix product is what an
// ideal implicit-GEMM convolution would cost (it never forms the k shifted
// copies), so the gap between the two is what faster convolution kernels
// could win at most, shape by shape. No correctness is compared: the products
// are not convolutions. Also timed: leaves' own convolution as matrix products
// (engine/cl_conv.h, `--cl-conv gemm`: im2col, then those products), whose
// correctness the tests check.

struct ConvCase {
  std::string name;
  int64_t Ci, Co, k, stride, Lin, Lout, per_pass;  ///< per_pass: how many of this shape one encoder forward has
};

// The encoder's convolutions (nn::ResNet1d): the stem at L; four stages of
// width w, 2w, 4w, 8w after the max-pool (L / 2), halving from the second on
// (a 3-tap stride-2 convolution and a 1 x 1 stride-2 shortcut open the stage).
std::vector<ConvCase> encoder_convs(int64_t width, int64_t in_channels, int64_t length) {
  std::vector<ConvCase> cases{{"stem", in_channels, width, 3, 1, length, length, 1}};
  int64_t L = length / 2;
  cases.push_back({"stage1.conv", width, width, 3, 1, L, L, 4});
  for (int s = 1; s < 4; ++s) {
    const int64_t C = width << s, Lout = (L - 1) / 2 + 1;
    const std::string stage = "stage" + std::to_string(s + 1);
    cases.push_back({stage + ".down", C / 2, C, 3, 2, L, Lout, 1});
    cases.push_back({stage + ".conv", C, C, 3, 1, Lout, Lout, 3});
    cases.push_back({stage + ".shortcut", C / 2, C, 1, 2, L, Lout, 1});
    L = Lout;
  }
  return cases;
}

}  // namespace

int bench_conv(const ConvArgs& a, std::FILE* out) {
  if (a.iters < 1 || a.warmup < 0) throw OptionError("iters", " must be >= 1 and warmup >= 0");
  const auto device = train::resolve_device(a.device);
  const std::string prec = a.precision == "auto" ? (device.is_cuda() ? "bf16" : "fp32") : a.precision;
  const auto dtype = prec == "bf16" ? torch::kBFloat16 : torch::kFloat;
  if (!device.is_cuda() && dtype != torch::kFloat) {
    throw OptionError("precision", " " + prec + ": on the CPU the encoder's convolutions run in fp32");
  }
  torch::manual_seed(a.seed);
  const auto opts = torch::TensorOptions().device(device).dtype(dtype);
  const bool cl = device.is_cuda();  // the encoder's layout on this device
  // As the pre-training step runs them by default (--no-cudnn-benchmark aside):
  // cuDNN tries its algorithms on the first calls of each shape (the warm-up).
  if (device.is_cuda()) compat::set_cudnn_benchmark(true);
  auto activation = [&](int64_t C, int64_t L) {
    auto t = torch::randn({a.batch, C, L}, opts);
    return cl ? t.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast) : t;
  };
  double conv_total = 0, gemm_total = 0, ours_total = 0, flop_total = 0;
  for (const auto& c : encoder_convs(a.width, a.in_channels, a.length)) {
    const auto x = activation(c.Ci, c.Lin), gy = activation(c.Co, c.Lout);
    const auto w3 = torch::randn({c.Co, c.Ci, c.k}, opts) * (1.0 / std::sqrt(static_cast<double>(c.Ci * c.k)));
    auto w = cl ? w3.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast) : w3;
    const int64_t pad = (c.k - 1) / 2;
    const std::vector<int64_t> stride = cl ? std::vector<int64_t>{1, c.stride} : std::vector<int64_t>{c.stride};
    const std::vector<int64_t> padding = cl ? std::vector<int64_t>{0, pad} : std::vector<int64_t>{pad};
    const std::vector<int64_t> dilation(stride.size(), 1), out_pad(stride.size(), 0);
    auto y = cl ? at::conv2d(x, w, {}, stride, padding) : at::conv1d(x, w, {}, stride, padding);
    if (y.size(-1) != c.Lout) throw std::logic_error("bench conv: output length of " + c.name);
    auto pass = [&](bool dx, bool dw) {
      return at::convolution_backward(gy, x, w, c10::nullopt, stride, padding, dilation, false, out_pad, 1,
                                      {dx, dw, false});
    };
    double conv_ms[3], gemm_ms[3];
    conv_ms[0] = ms_per_call(device, a.warmup, a.iters, [&] {
      return cl ? at::conv2d(x, w, {}, stride, padding) : at::conv1d(x, w, {}, stride, padding);
    });
    conv_ms[1] = ms_per_call(device, a.warmup, a.iters, [&] { return pass(true, false); });
    conv_ms[2] = ms_per_call(device, a.warmup, a.iters, [&] { return pass(false, true); });
    // leaves' convolution as matrix products (engine/cl_conv.h, --cl-conv gemm),
    // on channels-last [B, C, 1, L] (made so on the CPU).
    const auto x4 = cl ? x : x.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast);
    const auto gy4 = cl ? gy : gy.unsqueeze(2).contiguous(at::MemoryFormat::ChannelsLast);
    double ours_ms[3];
    ours_ms[0] = ms_per_call(device, a.warmup, a.iters, [&] { return engine::cl_gemm_detail::forward(x4, w3, c.stride); });
    ours_ms[1] = ms_per_call(device, a.warmup, a.iters,
                             [&] { return engine::cl_gemm_detail::input_grad(gy4, w3, c.stride, c.Lin); });
    ours_ms[2] = ms_per_call(device, a.warmup, a.iters,
                             [&] { return engine::cl_gemm_detail::weight_grad(x4, gy4, c.k, c.stride); });
    // The same arithmetic as matrix products: M = B Lout rows, K = k Ci, N = Co.
    const int64_t M = a.batch * c.Lout, K = c.k * c.Ci, N = c.Co;
    auto A = torch::randn({M, K}, opts), W = torch::randn({K, N}, opts), G = torch::randn({M, N}, opts);
    auto out_mn = torch::empty({M, N}, opts), out_mk = torch::empty({M, K}, opts), out_kn = torch::empty({K, N}, opts);
    gemm_ms[0] = ms_per_call(device, a.warmup, a.iters, [&] { return at::mm_out(out_mn, A, W); });
    gemm_ms[1] = ms_per_call(device, a.warmup, a.iters, [&] { return at::mm_out(out_mk, G, W.t()); });
    gemm_ms[2] = ms_per_call(device, a.warmup, a.iters, [&] { return at::mm_out(out_kn, A.t(), G); });
    const double flop = 3 * 2.0 * static_cast<double>(M) * K * N;  // the three passes
    const double cms = conv_ms[0] + conv_ms[1] + conv_ms[2], gms = gemm_ms[0] + gemm_ms[1] + gemm_ms[2];
    const double oms = ours_ms[0] + ours_ms[1] + ours_ms[2];
    conv_total += c.per_pass * cms;
    gemm_total += c.per_pass * gms;
    ours_total += c.per_pass * oms;
    flop_total += c.per_pass * flop;
    std::fprintf(out, "bench conv %-16s x%lld B=%lld Ci=%lld Co=%lld k=%lld s=%lld L=%lld->%lld dtype=%s "
                "conv_ms fwd=%.4f dgrad=%.4f wgrad=%.4f gemm_ms fwd=%.4f dgrad=%.4f wgrad=%.4f "
                "im2col_ms fwd=%.4f dgrad=%.4f wgrad=%.4f conv_tflops=%.3f gemm_tflops=%.3f conv/gemm=%.2f "
                "im2col/conv=%.2f\n",
                c.name.c_str(), static_cast<long long>(c.per_pass), static_cast<long long>(a.batch),
                static_cast<long long>(c.Ci), static_cast<long long>(c.Co), static_cast<long long>(c.k),
                static_cast<long long>(c.stride), static_cast<long long>(c.Lin), static_cast<long long>(c.Lout),
                prec.c_str(), conv_ms[0], conv_ms[1], conv_ms[2], gemm_ms[0], gemm_ms[1], gemm_ms[2], ours_ms[0],
                ours_ms[1], ours_ms[2], flop / (cms * 1e9), flop / (gms * 1e9), cms / gms, oms / cms);
  }
  std::fprintf(out, "bench conv total device=%s name=\"%s\" dtype=%s layout=%s conv_ms=%.3f gemm_ms=%.3f conv/gemm=%.2f "
              "im2col_ms=%.3f im2col/conv=%.2f conv_tflops=%.3f (forward + both gradients of the 20 convolutions "
              "of one encoder pass, B=%lld)\n",
              device.str().c_str(), compat::device_name(device).c_str(), prec.c_str(),
              cl ? "channels-last" : "channels-first", conv_total, gemm_total, conv_total / gemm_total, ours_total,
              ours_total / conv_total, flop_total / (conv_total * 1e9), static_cast<long long>(a.batch));
  return 0;
}
}  // namespace leaves::bench
