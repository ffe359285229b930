#include "leaves/engine/cl_conv.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "leaves/compat.h"

namespace leaves::engine {

namespace {

int64_t out_length(int64_t L, int64_t stride) { return (L - 1) / stride + 1; }  // k = 1 or 3, padding (k - 1) / 2

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// [B, C, 1, L] (any memory order) -> the [B, L, C] rows of its channels-last memory.
torch::Tensor rows_of(const torch::Tensor& x) {
  const int64_t B = x.size(0), C = x.size(1), L = x.size(3);
  return x.contiguous(at::MemoryFormat::ChannelsLast).permute({0, 2, 3, 1}).reshape({B, L, C});
}

// [B L, C] rows -> [B, C, 1, L] in channels-last order, without a copy.
torch::Tensor channels_last_of(const torch::Tensor& rows, int64_t B, int64_t L) {
  return rows.view({B, 1, L, rows.size(-1)}).permute({0, 3, 1, 2});
}

// Tap j of a k-tap, stride-s, padding-p window reads position l s + j - p for
// output l: the outputs [lo, hi] whose position lies inside [0, L).
struct TapRange {
  int64_t lo, hi;
  int64_t count() const { return hi >= lo ? hi - lo + 1 : 0; }
};
TapRange tap_range(int64_t j, int64_t k, int64_t s, int64_t L, int64_t Lout) {
  const int64_t p = (k - 1) / 2;
  const int64_t lo = std::max<int64_t>(0, -floor_div(j - p, s));  // ceil((p - j) / s)
  const int64_t hi = std::min<int64_t>(Lout - 1, floor_div(L - 1 + p - j, s));
  return {lo, hi};
}

// im2col of rows [B, L, C]: [B, Lout, k, C], cols[b, l, j] = rows[b, l s + j - p]
// (zero outside): one strided copy per tap, the padding rows zeroed.
torch::Tensor im2col(const torch::Tensor& rows, int64_t k, int64_t s, int64_t Lout) {
  const int64_t B = rows.size(0), L = rows.size(1), C = rows.size(2), p = (k - 1) / 2;
  auto cols = torch::empty({B, Lout, k, C}, rows.options());
  for (int64_t j = 0; j < k; ++j) {
    auto tap = cols.select(2, j);
    const auto r = tap_range(j, k, s, L, Lout);
    const int64_t n = r.count();
    if (n == 0) {
      tap.zero_();
      continue;
    }
    const int64_t t0 = r.lo * s + j - p;
    tap.narrow(1, r.lo, n).copy_(rows.slice(1, t0, t0 + (n - 1) * s + 1, s));
    if (r.lo > 0) tap.narrow(1, 0, r.lo).zero_();
    if (r.hi < Lout - 1) tap.narrow(1, r.hi + 1, Lout - 1 - r.hi).zero_();
  }
  return cols;
}

// The forward product's left operand for x [B, Ci, 1, L]: [B Lout, k Ci]
// (a 1 x 1 stride-1 convolution reads the rows as they are).
torch::Tensor columns(const torch::Tensor& x, int64_t k, int64_t stride) {
  const int64_t B = x.size(0), Ci = x.size(1), L = x.size(3), Lout = out_length(L, stride);
  auto rows = rows_of(x);
  if (k == 1 && stride == 1) return rows.reshape({B * L, Ci});
  return im2col(rows, k, stride, Lout).view({B * Lout, k * Ci});
}

// The kernel [Co, Ci, k] as the matrix [k Ci, Co] of the forward product.
torch::Tensor forward_matrix(const torch::Tensor& w) {
  return w.permute({2, 1, 0}).reshape({w.size(2) * w.size(1), w.size(0)});
}

void check(const torch::Tensor& x, const torch::Tensor& w, int64_t stride) {
  if (!cl_gemm_conv_applicable(x, w, stride)) {
    std::ostringstream s;
    s << "cl_gemm_conv: expected input [B, Ci, 1, L >= 1] and kernel [Co, Ci, 1 or 3] of one floating type and "
         "device, stride >= 1; got input "
      << x.sizes() << " " << x.dtype() << " on " << x.device() << ", kernel " << w.sizes() << " " << w.dtype()
      << " on " << w.device() << ", stride " << stride;
    throw std::invalid_argument(s.str());
  }
}

}  // namespace

bool cl_gemm_conv_applicable(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride) {
  return x.defined() && weight.defined() && x.dim() == 4 && x.size(2) == 1 && x.size(3) >= 1 && x.size(0) >= 1 &&
         weight.dim() == 3 && weight.size(1) == x.size(1) && weight.size(0) >= 1 &&
         (weight.size(2) == 1 || weight.size(2) == 3) && x.is_floating_point() && weight.is_floating_point() &&
         x.device() == weight.device() && stride >= 1;
}

namespace cl_gemm_detail {

torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride) {
  const int64_t B = x.size(0), Lout = out_length(x.size(3), stride);
  return channels_last_of(columns(x, weight.size(2), stride).mm(forward_matrix(weight)), B, Lout);
}

torch::Tensor input_grad(const torch::Tensor& dy, const torch::Tensor& weight, int64_t stride, int64_t length) {
  const int64_t B = dy.size(0), Co = dy.size(1), Lout = dy.size(3), Ci = weight.size(1), k = weight.size(2);
  auto g = rows_of(dy);  // [B, Lout, Co]
  if (stride == 1) {
    // dx[t] = sum_j dy[t + p - j] W_j^T: the forward's window over dy, the
    // taps in reverse order: one product.
    auto flipped = weight.flip({2}).permute({2, 0, 1}).reshape({k * Co, Ci});
    auto cols = k == 1 ? g.reshape({B * Lout, Co}) : im2col(g, k, 1, length).view({B * length, k * Co});
    return channels_last_of(cols.mm(flipped), B, length);
  }
  // Strided: each output's k taps go back to positions l s + j - p.
  auto dcols = g.reshape({B * Lout, Co}).mm(forward_matrix(weight).t()).view({B, Lout, k, Ci});
  auto dx = torch::zeros({B, length, Ci}, dy.options());
  const int64_t p = (k - 1) / 2;
  for (int64_t j = 0; j < k; ++j) {
    const auto r = tap_range(j, k, stride, length, Lout);
    const int64_t n = r.count();
    if (n == 0) continue;
    const int64_t t0 = r.lo * stride + j - p;
    dx.slice(1, t0, t0 + (n - 1) * stride + 1, stride).add_(dcols.select(2, j).narrow(1, r.lo, n));
  }
  return channels_last_of(dx.view({B * length, Ci}), B, length);
}

torch::Tensor weight_grad(const torch::Tensor& x, const torch::Tensor& dy, int64_t k, int64_t stride) {
  const int64_t B = x.size(0), Ci = x.size(1), Co = dy.size(1), Lout = dy.size(3);
  auto dw = columns(x, k, stride).t().mm(rows_of(dy).reshape({B * Lout, Co}));  // [k Ci, Co]
  return dw.view({k, Ci, Co}).permute({2, 1, 0}).contiguous();
}

}  // namespace cl_gemm_detail

namespace {

class ClGemmConvFn : public torch::autograd::Function<ClGemmConvFn> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               const torch::Tensor& bias, int64_t stride) {
    const bool has_bias = bias.numel() > 0;
    ctx->saved_data["has_bias"] = has_bias;
    ctx->saved_data["stride"] = stride;
    ctx->save_for_backward({x, w});
    auto y = cl_gemm_detail::forward(x, w, stride);
    if (has_bias) y = y.add_(bias.view({1, -1, 1, 1}));  // in place: y is this function's own
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1];
    const int64_t stride = ctx->saved_data["stride"].toInt();
    auto g = grads[0].to(x.scalar_type());
    torch::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) dx = cl_gemm_detail::input_grad(g, w, stride, x.size(3));
    if (ctx->needs_input_grad(1)) dw = cl_gemm_detail::weight_grad(x, g, w.size(2), stride);
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) db = g.sum(std::vector<int64_t>{0, 2, 3});
    return {dx, dw, db, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor cl_gemm_conv(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                           int64_t stride) {
  check(x, weight, stride);
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0))) {
    std::ostringstream s;
    s << "cl_gemm_conv: bias must be [" << weight.size(0) << "], got " << bias.sizes();
    throw std::invalid_argument(s.str());
  }
  auto xi = x, wi = weight;
  if (compat::autocast_on(x.device().type())) {
    // As autocast runs a convolution: both operands in its type (the casts are
    // differentiable, so the fp32 weights get their gradient through them).
    const auto t = compat::autocast_type(x.device().type());
    xi = x.to(t), wi = weight.to(t);
  } else if (weight.scalar_type() != x.scalar_type()) {  // as LibTorch's convolution refuses them
    std::ostringstream s;
    s << "cl_gemm_conv: input " << x.dtype() << " and kernel " << weight.dtype() << " differ outside autocast";
    throw std::invalid_argument(s.str());
  }
  return ClGemmConvFn::apply(xi, wi, bias.defined() ? bias : torch::empty({0}, x.options()), stride);
}

}  // namespace leaves::engine
