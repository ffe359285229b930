// leaves' CUDA kernels (src/leaves/engine/cuda), run on the CPU by the emulation
// in cuda_emulation.h, against LibTorch's BatchNorm + add + LeakyReLU in
// float64 on the same inputs. A test executable of its own: the emulation's
// macros (threadIdx, __shared__, ...) must not reach any other source.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <tuple>

#include "engine/cuda_emulation.h"
// The kernels themselves, compiled here as host code.
#include "leaves/engine/cuda/batchnorm_act.cu"
#include "leaves/engine/cuda/permutation.cu"
#include "leaves/augment/permutation.h"

namespace {

namespace cuda = leaves::engine::cuda;

struct Case {
  torch::ScalarType dtype;
  int64_t M, C;
  bool residual, activate;
  bool misaligned = false;  ///< x one element past an aligned address: the kernels' 1-wide packs
  bool mask_from_x = false;  ///< backward without y: the activation's sign recomputed from x (no residual)
};

std::string name_of(const Case& c) {
  return std::string(c.dtype == torch::kFloat ? "fp32" : c.dtype == torch::kBFloat16 ? "bf16" : "fp16") +
         " M=" + std::to_string(c.M) + " C=" + std::to_string(c.C) + (c.residual ? " residual" : "") +
         (c.activate ? " act" : "") + (c.misaligned ? " misaligned" : "") + (c.mask_from_x ? " mask-from-x" : "");
}

cuda::Dtype dtype_of(torch::ScalarType t) {
  return t == torch::kFloat ? cuda::Dtype::Float : t == torch::kBFloat16 ? cuda::Dtype::BFloat16 : cuda::Dtype::Half;
}

// max |a - b| / max |b|
double rel(const torch::Tensor& a, const torch::Tensor& b) {
  auto bd = b.to(torch::kDouble);
  return (a.to(torch::kDouble) - bd).abs().max().item<double>() / std::max(bd.abs().max().item<double>(), 1e-30);
}

// [M, C] rows of channels, optionally one element past an aligned address.
torch::Tensor rows(const torch::Tensor& values, bool misaligned) {
  if (!misaligned) return values.contiguous();
  auto storage = torch::empty({values.numel() + 1}, values.options());
  auto view = storage.narrow(0, 1, values.numel()).view(values.sizes());
  view.copy_(values);
  return view;
}

void check(const Case& c) {
  SCOPED_TRACE(name_of(c));
  torch::manual_seed(7);
  const double slope = 0.01, eps = 1e-5, momentum = 0.1;
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  // Values away from zero mean and unit scale, as a convolution's output is.
  auto x = rows((torch::randn({c.M, c.C}, f64) * 3 + 1.5).to(c.dtype), c.misaligned);
  auto res = (torch::randn({c.M, c.C}, f64)).to(c.dtype).contiguous();
  auto dy = (torch::randn({c.M, c.C}, f64)).to(c.dtype).contiguous();
  auto weight = (torch::randn({c.C}, f64) * 0.3 + 1).to(torch::kFloat);
  auto bias = (torch::randn({c.C}, f64) * 0.3).to(torch::kFloat);
  auto running_mean = (torch::randn({c.C}, f64) * 0.5).to(torch::kFloat);
  auto running_var = torch::rand({c.C}, f64).add(0.5).to(torch::kFloat);

  // Reference: LibTorch's ops in float64 on the same (rounded) inputs, [1, C, M].
  auto xr = x.to(torch::kDouble).t().unsqueeze(0).detach().requires_grad_(true);
  auto rr = res.to(torch::kDouble).t().unsqueeze(0).detach().requires_grad_(true);
  auto wr = weight.to(torch::kDouble).detach().requires_grad_(true);
  auto br = bias.to(torch::kDouble).detach().requires_grad_(true);
  auto rm_ref = running_mean.to(torch::kDouble), rv_ref = running_var.to(torch::kDouble);
  auto z = torch::batch_norm(xr, wr, br, rm_ref, rv_ref, true, momentum, eps, false);
  if (c.residual) z = z + rr;
  if (c.activate) z = torch::leaky_relu(z, slope);
  z.backward(dy.to(torch::kDouble).t().unsqueeze(0));
  auto y_ref = z.detach().squeeze(0).t();

  // The kernels.
  auto y = torch::empty({c.M, c.C}, x.options());
  auto f32 = torch::TensorOptions().dtype(torch::kFloat);
  auto mean = torch::empty({c.C}, f32), invstd = torch::empty({c.C}, f32);
  auto ws = torch::full({cuda::bn_act_workspace_floats(c.C)}, NAN, f32);
  auto rm = running_mean.clone(), rv = running_var.clone();
  auto affine = torch::full({2 * c.C}, NAN, f32);
  cuda::BnActForward a;
  a.dtype = dtype_of(c.dtype);
  a.x = x.data_ptr(), a.residual = c.residual ? res.data_ptr() : nullptr, a.y = y.data_ptr();
  a.rows = c.M, a.channels = c.C;
  a.weight = weight.data_ptr<float>(), a.bias = bias.data_ptr<float>();
  a.running_mean = rm.data_ptr<float>(), a.running_var = rv.data_ptr<float>();
  a.momentum = momentum, a.eps = eps;
  a.save_mean = mean.data_ptr<float>(), a.save_invstd = invstd.data_ptr<float>();
  a.save_affine = affine.data_ptr<float>();
  a.workspace = ws.data_ptr<float>();
  a.activate = c.activate, a.slope = static_cast<float>(slope);
  ASSERT_EQ(cuda::bn_act_forward(a, nullptr), nullptr);

  auto dx = torch::empty({c.M, c.C}, x.options());
  auto dres = torch::empty({c.M, c.C}, x.options());
  auto dweight = torch::empty({c.C}, f32), dbias = torch::empty({c.C}, f32);
  cuda::BnActBackward b;
  b.dtype = a.dtype;
  b.x = x.data_ptr(), b.y = c.mask_from_x ? nullptr : y.data_ptr(), b.dy = dy.data_ptr(), b.dx = dx.data_ptr();
  b.affine = affine.data_ptr<float>();
  b.dresidual = c.residual && c.activate ? dres.data_ptr() : nullptr;
  b.rows = c.M, b.channels = c.C;
  b.weight = weight.data_ptr<float>(), b.save_mean = mean.data_ptr<float>(), b.save_invstd = invstd.data_ptr<float>();
  b.dweight = dweight.data_ptr<float>(), b.dbias = dbias.data_ptr<float>();
  b.workspace = ws.data_ptr<float>();
  b.activate = c.activate, b.slope = a.slope;
  ASSERT_EQ(cuda::bn_act_backward(b, nullptr), nullptr);

  // Statistics are fp32 from exactly the same inputs: tight in every type.
  auto xd = x.to(torch::kDouble);
  auto var = xd.var(0, /*unbiased=*/false);
  EXPECT_LT(rel(mean, xd.mean(0)), 1e-6);
  EXPECT_LT(rel(invstd, (var + eps).rsqrt()), 1e-5);
  EXPECT_LT(rel(rm, rm_ref), 1e-6);
  EXPECT_LT(rel(rv, rv_ref), 1e-5);
  // Outputs are rounded to the activations' type: one rounding (plus the
  // float arithmetic before it) in fp32, a few bf16/fp16 units in the others.
  const double tol = c.dtype == torch::kFloat ? 2e-6 : c.dtype == torch::kHalf ? 4e-3 : 2e-2;
  EXPECT_LT(rel(y, y_ref), tol);
  EXPECT_LT(rel(dx, xr.grad().squeeze(0).t()), tol);
  EXPECT_LT(rel(dweight, wr.grad()), tol);
  EXPECT_LT(rel(dbias, br.grad()), tol);
  if (c.residual && c.activate) EXPECT_LT(rel(dres, rr.grad().squeeze(0).t()), tol);
}

TEST(CudaKernelsEmulated, BatchNormActMatchesLibTorchInFloat64) {
  const int before = cuda::emulation::launches;
  // fp32 packs of 4 (C = 64, 12), 2 (C = 6), 1 (C = 7); several row-blocks and rows per thread.
  for (const Case& c : {Case{torch::kFloat, 1000, 64, true, true}, Case{torch::kFloat, 700, 12, false, true},
                        Case{torch::kFloat, 700, 12, false, true, false, true},
                        Case{torch::kFloat, 300, 7, false, false}, Case{torch::kFloat, 257, 6, true, true},
                        Case{torch::kFloat, 500, 64, true, true, true}}) {
    check(c);
  }
  // bf16 packs of 8 (C = 64, 512: two channel tiles), 4 (C = 12), 1 (misaligned); fp16 packs of 8.
  for (const Case& c : {Case{torch::kBFloat16, 1000, 64, true, true}, Case{torch::kBFloat16, 96, 512, true, true},
                        Case{torch::kBFloat16, 700, 12, false, true}, Case{torch::kBFloat16, 300, 64, false, false},
                        Case{torch::kBFloat16, 1000, 64, false, true, false, true},
                        Case{torch::kBFloat16, 333, 24, false, true, true, true},
                        Case{torch::kBFloat16, 400, 16, true, true, true}, Case{torch::kHalf, 640, 32, true, true}}) {
    check(c);
  }
  EXPECT_GE(cuda::emulation::launches - before, 14 * 6);  // three kernels each way per case
}

TEST(CudaKernelsEmulated, TilingSplitsRowsAndChannels) {
  // bf16, C = 512: 8-wide packs, 32 packs per block row, two channel tiles;
  // a reduction takes at most kBlocksPerSm blocks per SM in all.
  const auto t = cuda::tiling(100000, 512, 2, {}, true);
  EXPECT_EQ(t.v, 8);
  EXPECT_EQ(t.tx, 32);
  EXPECT_EQ(t.ty, 8);
  EXPECT_EQ(t.channel_tiles, 2);
  EXPECT_EQ(t.row_blocks * t.channel_tiles, cuda::kBlocksPerSm * cuda::emulation::sm_count);
  // C = 7 in fp32: 1-wide packs; a misaligned pointer halves the pack until it fits.
  EXPECT_EQ(cuda::tiling(10, 7, 4, {}, false).v, 1);
  alignas(16) static float buf[8];
  EXPECT_EQ(cuda::tiling(10, 64, 4, {buf + 2}, false).v, 2);
  // Never more row-blocks than rows need.
  EXPECT_EQ(cuda::tiling(5, 64, 4, {}, false).row_blocks, 1);
}

TEST(CudaKernelsEmulated, ForwardIsDeterministic) {
  torch::manual_seed(3);
  const int64_t M = 900, C = 32;
  auto x = torch::randn({M, C}).to(torch::kBFloat16);
  auto w = torch::ones({C}), b = torch::zeros({C});
  auto run = [&] {
    auto y = torch::empty_like(x);
    auto mean = torch::empty({C}), invstd = torch::empty({C});
    auto ws = torch::empty({cuda::bn_act_workspace_floats(C)});
    cuda::BnActForward a;
    a.dtype = cuda::Dtype::BFloat16, a.x = x.data_ptr(), a.y = y.data_ptr(), a.rows = M, a.channels = C;
    a.weight = w.data_ptr<float>(), a.bias = b.data_ptr<float>();
    a.save_mean = mean.data_ptr<float>(), a.save_invstd = invstd.data_ptr<float>(), a.workspace = ws.data_ptr<float>();
    EXPECT_EQ(cuda::bn_act_forward(a, nullptr), nullptr);
    return std::make_tuple(y, mean, invstd);
  };
  auto [y1, m1, i1] = run();
  auto [y2, m2, i2] = run();
  EXPECT_TRUE(torch::equal(y1, y2));
  EXPECT_TRUE(torch::equal(m1, m2));
  EXPECT_TRUE(torch::equal(i1, i2));
}

TEST(CudaKernelsEmulated, MaskFromXGivesTheSameBitsAsFromY) {
  // The recomputed sign is the forward's: dx, dweight, dbias agree bit for bit.
  torch::manual_seed(5);
  const int64_t M = 640, C = 16;
  auto x = (torch::randn({M, C}) * 2).to(torch::kBFloat16), dy = torch::randn({M, C}).to(torch::kBFloat16);
  auto w = torch::randn({C}), bias = torch::randn({C});
  auto y = torch::empty_like(x), mean = torch::empty({C}), invstd = torch::empty({C}), affine = torch::empty({2 * C});
  auto ws = torch::empty({cuda::bn_act_workspace_floats(C)});
  cuda::BnActForward a;
  a.dtype = cuda::Dtype::BFloat16, a.x = x.data_ptr(), a.y = y.data_ptr(), a.rows = M, a.channels = C;
  a.weight = w.data_ptr<float>(), a.bias = bias.data_ptr<float>(), a.save_mean = mean.data_ptr<float>();
  a.save_invstd = invstd.data_ptr<float>(), a.save_affine = affine.data_ptr<float>(), a.workspace = ws.data_ptr<float>();
  ASSERT_EQ(cuda::bn_act_forward(a, nullptr), nullptr);
  auto backward = [&](bool from_x) {
    auto dx = torch::empty_like(x), dw = torch::empty({C}), db = torch::empty({C});
    cuda::BnActBackward b;
    b.dtype = a.dtype, b.x = x.data_ptr(), b.y = from_x ? nullptr : y.data_ptr(), b.dy = dy.data_ptr();
    b.dx = dx.data_ptr(), b.rows = M, b.channels = C, b.weight = w.data_ptr<float>();
    b.save_mean = mean.data_ptr<float>(), b.save_invstd = invstd.data_ptr<float>(), b.affine = affine.data_ptr<float>();
    b.dweight = dw.data_ptr<float>(), b.dbias = db.data_ptr<float>(), b.workspace = ws.data_ptr<float>();
    EXPECT_EQ(cuda::bn_act_backward(b, nullptr), nullptr);
    return std::make_tuple(dx, dw, db);
  };
  auto [dx1, dw1, db1] = backward(false);
  auto [dx2, dw2, db2] = backward(true);
  EXPECT_TRUE(torch::equal(dx1, dx2));
  EXPECT_TRUE(torch::equal(dw1, dw2));
  EXPECT_TRUE(torch::equal(db1, db2));
}

// The stem: convolution + BatchNorm + LeakyReLU + max-pool, forward and
// backward, against LibTorch's ops in float64 on the same inputs.
void check_stem(torch::ScalarType dtype, int64_t B, int64_t L, int Ci, int C) {
  SCOPED_TRACE("stem " + std::string(dtype == torch::kFloat ? "fp32" : "bf16") + " B=" + std::to_string(B) +
               " L=" + std::to_string(L) + " Ci=" + std::to_string(Ci) + " C=" + std::to_string(C));
  torch::manual_seed(11);
  const double slope = 0.01, eps = 1e-5, momentum = 0.1;
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  auto x = torch::randn({B, Ci, L}, f64).to(torch::kFloat);            // [B, Ci, L]
  auto w = (torch::randn({C, Ci, 3}, f64) * 0.5).to(torch::kFloat);
  auto cb = (torch::randn({C}, f64) * 0.2).to(torch::kFloat);
  auto gamma = (torch::randn({C}, f64) * 0.3 + 1).to(torch::kFloat);
  auto beta = (torch::randn({C}, f64) * 0.3).to(torch::kFloat);
  auto rm = torch::zeros({C}), rv = torch::ones({C});
  auto dout = torch::randn({B, C, L / 2}, f64).to(dtype);

  auto xr = x.to(torch::kDouble).requires_grad_(true);
  auto wr = w.to(torch::kDouble).requires_grad_(true), cbr = cb.to(torch::kDouble).requires_grad_(true);
  auto gr = gamma.to(torch::kDouble).requires_grad_(true), br = beta.to(torch::kDouble).requires_grad_(true);
  auto rm_ref = rm.to(torch::kDouble), rv_ref = rv.to(torch::kDouble);
  auto z = torch::conv1d(xr, wr, cbr, 1, 1);
  z = torch::batch_norm(z, gr, br, rm_ref, rv_ref, true, momentum, eps, false);
  auto y_ref = torch::max_pool1d(torch::leaky_relu(z, slope), 2);
  y_ref.backward(dout.to(torch::kDouble));

  // The kernels take rows of channels: [B, L, Ci] in, [B, L / 2, C] out.
  auto xrows = x.transpose(1, 2).contiguous();
  auto f32 = torch::TensorOptions().dtype(torch::kFloat);
  auto out = torch::empty({B, L / 2, C}, torch::TensorOptions().dtype(dtype));
  auto mean = torch::empty({C}), invstd = torch::empty({C}), affine = torch::empty({2 * C});
  auto ws = torch::full({cuda::stem_workspace_floats(Ci, C)}, NAN, f32);
  auto dx = torch::full({B, L, Ci}, NAN, f32), dw = torch::full({C, Ci, 3}, NAN, f32);
  auto dcb = torch::full({C}, NAN, f32), dgamma = torch::full({C}, NAN, f32), dbeta = torch::full({C}, NAN, f32);
  auto doutrows = dout.transpose(1, 2).contiguous();
  cuda::StemArgs a;
  a.dtype = dtype_of(dtype);
  a.x = xrows.data_ptr<float>(), a.batch = B, a.length = L, a.in_channels = Ci, a.channels = C;
  a.conv_weight = w.data_ptr<float>(), a.conv_bias = cb.data_ptr<float>();
  a.weight = gamma.data_ptr<float>(), a.bias = beta.data_ptr<float>();
  a.running_mean = rm.data_ptr<float>(), a.running_var = rv.data_ptr<float>();
  a.momentum = momentum, a.eps = eps, a.slope = static_cast<float>(slope);
  a.save_mean = mean.data_ptr<float>(), a.save_invstd = invstd.data_ptr<float>();
  a.save_affine = affine.data_ptr<float>();
  a.out = out.data_ptr(), a.dout = doutrows.data_ptr();
  a.dx = dx.data_ptr<float>(), a.dconv_weight = dw.data_ptr<float>(), a.dconv_bias = dcb.data_ptr<float>();
  a.dweight = dgamma.data_ptr<float>(), a.dbias = dbeta.data_ptr<float>();
  a.workspace = ws.data_ptr<float>();
  ASSERT_TRUE(cuda::stem_supported(Ci, C));
  ASSERT_EQ(cuda::stem_forward(a, nullptr), nullptr);
  ASSERT_EQ(cuda::stem_backward(a, nullptr), nullptr);

  const double tol = dtype == torch::kFloat ? 2e-5 : 2e-2;
  EXPECT_LT(rel(out.transpose(1, 2), y_ref.detach()), tol);
  EXPECT_LT(rel(rm, rm_ref), 1e-5);
  EXPECT_LT(rel(rv, rv_ref), 1e-5);
  EXPECT_LT(rel(dx.transpose(1, 2), xr.grad()), tol);
  EXPECT_LT(rel(dw, wr.grad()), tol);
  EXPECT_LT(rel(dgamma, gr.grad()), tol);
  EXPECT_LT(rel(dbeta, br.grad()), tol);
  // The conv bias's gradient is zero in exact arithmetic (BatchNorm follows):
  // compare on the scale of the other gradients.
  EXPECT_LT((dcb.to(torch::kDouble) - cbr.grad()).abs().max().item<double>() /
                dw.abs().max().item<double>(), tol);
}

TEST(CudaKernelsEmulated, StemMatchesLibTorchInFloat64) {
  check_stem(torch::kFloat, 3, 300, 1, 64);   // Sleep-EDF's stem: one input channel, packs of 4; 15 tiles, 8 blocks
  check_stem(torch::kFloat, 2, 101, 12, 16);  // PTB-XL's 12 leads; odd L: the last position is not pooled
  check_stem(torch::kFloat, 2, 64, 3, 6);     // packs of 1
  check_stem(torch::kBFloat16, 3, 300, 1, 64);
  check_stem(torch::kBFloat16, 2, 130, 12, 16);
}

TEST(CudaKernelsEmulated, StemLimits) {
  EXPECT_TRUE(cuda::stem_supported(1, 64));
  EXPECT_TRUE(cuda::stem_supported(12, 64));
  EXPECT_FALSE(cuda::stem_supported(64, 256));  // its weights would not fit in shared memory
  cuda::StemArgs a;
  a.batch = 1, a.length = 1, a.in_channels = 1, a.channels = 4;
  EXPECT_NE(cuda::stem_forward(a, nullptr), nullptr);
}

TEST(CudaKernelsEmulated, RejectsWhatItCannotCompute) {
  cuda::BnActForward a;
  a.rows = 1, a.channels = 4;
  EXPECT_NE(cuda::bn_act_forward(a, nullptr), nullptr);  // fewer than two rows
  cuda::BnActBackward b;
  b.rows = 8, b.channels = 4, b.activate = true;
  EXPECT_NE(cuda::bn_act_backward(b, nullptr), nullptr);  // neither y nor affine
  float affine[8] = {};
  int dres = 0;
  b.affine = affine, b.dresidual = &dres;
  EXPECT_NE(cuda::bn_act_backward(b, nullptr), nullptr);  // a residual needs y
}

// The segment permutation's kernels (engine/cuda/permutation.cu) against the
// library's CPU loops: the index exactly, the relaxed estimator's products to
// rounding (both sum in double, in different orders).
namespace perm = leaves::augment;

TEST(CudaKernelsEmulated, PermutationIndexEqualsTheCpuLoops) {
  torch::manual_seed(31);
  const int before = cuda::emulation::launches;
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    for (int64_t L : {1, 5, 256, 600}) {  // fewer and more positions than a block's threads
      for (int64_t K : {1, 3, 7}) {
        const int64_t B = 6;
        auto counts = torch::randint(1, K + 1, {B}, torch::kLong);
        auto keys = torch::rand({B, K}, dtype);
        auto out = torch::full({B, L}, -1, torch::kLong);
        ASSERT_EQ(cuda::permutation_index(counts.data_ptr<int64_t>(), keys.data_ptr(),
                                                dtype == torch::kDouble ? cuda::Real::Double
                                                                        : cuda::Real::Float,
                                                B, K, L, out.data_ptr<int64_t>(), nullptr),
                  nullptr);
        EXPECT_TRUE(torch::equal(out, perm::permutation_index(counts, keys, L))) << "L " << L << " K " << K;
      }
    }
  }
  EXPECT_EQ(cuda::emulation::launches - before, 2 * 4 * 3);
  // Counts outside [1, K] are clamped (no host check on a GPU).
  auto keys = torch::rand({2, 4});
  auto out = torch::empty({2, 50}, torch::kLong);
  auto counts = torch::tensor({int64_t{0}, int64_t{9}});
  ASSERT_EQ(cuda::permutation_index(counts.data_ptr<int64_t>(), keys.data_ptr(), cuda::Real::Float, 2, 4,
                                          50, out.data_ptr<int64_t>(), nullptr),
            nullptr);
  EXPECT_TRUE(torch::equal(out, perm::permutation_index(torch::tensor({int64_t{1}, int64_t{4}}), keys, 50)));
}

TEST(CudaKernelsEmulated, RelaxedPermutationProductsEqualTheCpuLoops) {
  torch::manual_seed(32);
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    for (int64_t C : {1, 3}) {
      for (int64_t L : {7, 300}) {
        const int64_t B = 4, K = 5;
        auto x = torch::randn({B, C, L}, dtype), g = torch::randn({B, C, L}, dtype);
        auto keys = torch::rand({B, K}, dtype);
        auto out = torch::full({B, K}, 1e30, dtype);
        ASSERT_EQ(cuda::relaxed_permutation_products(
                      g.data_ptr(), x.data_ptr(), keys.data_ptr(),
                      dtype == torch::kDouble ? cuda::Real::Double : cuda::Real::Float, B, C, L, K,
                      out.data_ptr(), nullptr),
                  nullptr);
        auto want = perm::relaxed_permutation_products(g, x, keys).to(torch::kDouble);
        const double tol = dtype == torch::kDouble ? 1e-12 : 1e-6;
        EXPECT_LT((out.to(torch::kDouble) - want).abs().max().item<double>(),
                  tol * std::max(1.0, want.abs().max().item<double>()))
            << "C " << C << " L " << L;
      }
    }
  }
}

TEST(CudaKernelsEmulated, PermutationKernelsRejectWhatTheyCannotCompute) {
  int64_t counts[1] = {1}, out[4];
  float keys[1] = {0.5f};
  EXPECT_NE(cuda::permutation_index(counts, keys, cuda::Real::Float, 0, 1, 4, out, nullptr), nullptr);
  EXPECT_NE(cuda::permutation_index(counts, keys, cuda::Real::Float, 1, 0, 4, out, nullptr), nullptr);
  EXPECT_NE(cuda::permutation_index(counts, keys, cuda::Real::Float, 1, 70000, 4, out, nullptr), nullptr);
  EXPECT_NE(cuda::relaxed_permutation_products(keys, keys, keys, cuda::Real::Float, 1, 0, 4, 1, out,
                                                     nullptr),
            nullptr);
}

}  // namespace
