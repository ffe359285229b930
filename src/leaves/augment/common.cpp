#include "leaves/augment/common.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace leaves::augment {

namespace {
std::string shape_of(const torch::Tensor& x) {
  std::ostringstream s;
  s << x.sizes();
  return s.str();
}
}  // namespace

void check_series(const torch::Tensor& x, const std::string& who) {
  if (!x.defined()) throw std::invalid_argument(who + ": input tensor is undefined");
  if (x.dim() != 3) {
    throw std::invalid_argument(who + ": expected a 3-D tensor [B, C, L] (batch, channels, time), got shape " +
                                shape_of(x));
  }
  if (!x.is_floating_point()) {
    throw std::invalid_argument(who + ": expected a floating-point tensor, got dtype " +
                                std::string(c10::toString(x.scalar_type())));
  }
  if (x.size(0) < 1 || x.size(1) < 1 || x.size(2) < 1) {
    throw std::invalid_argument(who + ": expected B, C, L >= 1, got shape " + shape_of(x));
  }
}

void check_option(bool ok, const std::string& who, const std::string& name,
                  const std::string& expected, double got) {
  if (ok) return;
  std::ostringstream s;
  s << who << ": option " << name << " must be " << expected << ", got " << got;
  throw std::invalid_argument(s.str());
}

double bounded_init(double value, double lo, double hi) {
  if (!(value > lo && value < hi)) {
    std::ostringstream s;
    s << "initial value " << value << " must lie strictly inside (" << lo << ", " << hi << ")";
    throw std::invalid_argument(s.str());
  }
  const double f = (value - lo) / (hi - lo);
  return std::log(f / (1.0 - f));
}

torch::Tensor bounded(const torch::Tensor& raw, double lo, double hi) {
  return lo + (hi - lo) * torch::sigmoid(raw);
}

torch::Tensor register_intensity(torch::nn::Module& module, const std::string& who, double eta, double init) {
  check_option(eta > 0 && std::isfinite(eta), who, "eta", "> 0", eta);
  check_option(init > 0 && init < 1, who, "init", "in (0, 1)", init);
  return module.register_parameter("raw", torch::full({}, bounded_init(init, 0.0, 1.0)));
}

Interpolation parse_interpolation(const std::string& name) {
  if (name == "linear") return Interpolation::Linear;
  if (name == "cubic") return Interpolation::Cubic;
  throw std::invalid_argument("interpolation must be 'linear' or 'cubic', got '" + name + "'");
}

std::string to_string(Interpolation mode) {
  return mode == Interpolation::Linear ? "linear" : "cubic";
}

torch::Tensor interpolation_basis(int64_t k, int64_t L, Interpolation mode) {
  if (k < 2) throw std::invalid_argument("interpolation basis: need at least 2 knots, got " + std::to_string(k));
  if (L < 1) throw std::invalid_argument("interpolation basis: need a length >= 1");
  auto W = torch::zeros({k, L}, torch::kDouble);
  auto w = W.accessor<double, 2>();
  const double step = L > 1 ? double(k - 1) / double(L - 1) : 0.0;  // knot units per time step
  if (mode == Interpolation::Linear || k == 2) {
    for (int64_t t = 0; t < L; ++t) {
      const double u = t * step;
      const int64_t j = std::min<int64_t>(static_cast<int64_t>(std::floor(u)), k - 2);
      const double f = u - j;
      w[j][t] += 1.0 - f;
      w[j + 1][t] += f;
    }
    return W;
  }
  // Natural cubic spline with unit knot spacing, one basis curve per knot
  // (interpolation is linear in the knot values). Second derivatives m solve the
  // tridiagonal system m[i-1] + 4 m[i] + m[i+1] = 6 (y[i-1] - 2 y[i] + y[i+1]),
  // m[0] = m[k-1] = 0 (Thomas algorithm).
  for (int64_t j = 0; j < k; ++j) {
    std::vector<double> y(k, 0.0), m(k, 0.0);
    y[j] = 1.0;
    const int64_t n = k - 2;  // interior unknowns
    std::vector<double> c(n), d(n);
    for (int64_t i = 0; i < n; ++i) {
      const double rhs = 6.0 * (y[i] - 2.0 * y[i + 1] + y[i + 2]);
      if (i == 0) {
        c[i] = 1.0 / 4.0;
        d[i] = rhs / 4.0;
      } else {
        const double den = 4.0 - c[i - 1];
        c[i] = 1.0 / den;
        d[i] = (rhs - d[i - 1]) / den;
      }
    }
    for (int64_t i = n - 1; i >= 0; --i) m[i + 1] = d[i] - (i + 1 < n ? c[i] * m[i + 2] : 0.0);
    for (int64_t t = 0; t < L; ++t) {
      const double u = t * step;
      const int64_t i = std::min<int64_t>(static_cast<int64_t>(std::floor(u)), k - 2);
      const double a = (i + 1) - u, b = u - i;
      w[j][t] = a * y[i] + b * y[i + 1] + ((a * a * a - a) * m[i] + (b * b * b - b) * m[i + 1]) / 6.0;
    }
  }
  return W;
}

torch::Tensor InterpolationBasis::get(int64_t knots, int64_t length, Interpolation mode,
                                      const torch::TensorOptions& options) {
  const Key want{knots, length, mode, options.device(), c10::typeMetaToScalarType(options.dtype())};
  if (!cached_.defined() || want.knots != key_.knots || want.length != key_.length || want.mode != key_.mode ||
      want.device != key_.device || want.dtype != key_.dtype) {
    cached_ = interpolation_basis(knots, length, mode).to(options.device(), want.dtype);
    key_ = want;
  }
  return cached_;
}

torch::Tensor resample_linear(const torch::Tensor& x, const torch::Tensor& pos) {
  check_series(x, "resample_linear");
  const int64_t B = x.size(0), C = x.size(1), L = x.size(2);
  if (pos.dim() != 3 || pos.size(0) != B || (pos.size(1) != 1 && pos.size(1) != C)) {
    std::ostringstream s;
    s << "resample_linear: positions must be [B, 1, L'] or [B, C, L'] for input " << x.sizes() << ", got "
      << pos.sizes();
    throw std::invalid_argument(s.str());
  }
  if (L == 1) return x.expand({B, C, pos.size(2)}).clone();
  auto p = pos.to(x.scalar_type()).clamp(0, static_cast<double>(L - 1));
  auto i0 = p.detach().floor().clamp(0, static_cast<double>(L - 2));
  auto f = p - i0;
  auto idx = i0.to(torch::kLong).expand({B, C, pos.size(2)});
  auto x0 = x.gather(2, idx);
  auto x1 = x.gather(2, idx + 1);
  return (1 - f) * x0 + f * x1;  // exact at f = 0 and f = 1
}

}  // namespace leaves::augment
