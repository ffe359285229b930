#include "leaves/quality/ecg_quality.h"

#include <torch/torch.h>

#include <cmath>
#include <complex>
#include <limits>
#include <stdexcept>

namespace leaves::quality {

namespace {
constexpr double kPi = 3.14159265358979323846;
const double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

std::string quality_name(Quality q) {
  switch (q) {
    case Quality::Excellent: return "Excellent";
    case Quality::BarelyAcceptable: return "Barely acceptable";
    case Quality::Unacceptable: return "Unacceptable";
  }
  return "?";
}

// --------------------------------------------------------------------------
// Section 1: cleaning

std::vector<Sos> butter_highpass_sos(double cutoff, double rate) {
  if (!(rate > 0) || !(cutoff > 0 && cutoff < rate / 2)) {
    throw std::invalid_argument("butter_highpass_sos: need 0 < cutoff < rate / 2");
  }
  using C = std::complex<double>;
  const double omega = 4.0 * std::tan(kPi * cutoff / rate);  // prewarped, scipy's fs = 2 convention
  std::array<C, 5> p;
  for (int k = 0; k < 5; ++k) {
    const C s = std::exp(C(0, kPi * (2 * k + 6) / 10.0));  // analog low-pass prototype pole
    const C q = omega / s;                                  // low-pass -> high-pass
    p[k] = (4.0 + q) / (4.0 - q);                           // bilinear transform
  }
  // Gain so that H(-1) = 1: five zeros at z = 1 give (-2)^5 on top.
  C den = 1;
  for (const auto& pk : p) den *= (-1.0 - pk);
  const double gain = (den / -32.0).real();
  // Sections as scipy's zpk2sos pairs them: the real pole (k = 2) first with
  // the gain, then the conjugate pairs, the one nearest the unit circle last.
  std::vector<Sos> sos;
  sos.push_back({gain, -gain, 0.0, 1.0, -p[2].real(), 0.0});
  for (int k : {1, 0}) {  // pairs (1, 3) then (0, 4)
    sos.push_back({1.0, -2.0, 1.0, 1.0, -2.0 * p[k].real(), std::norm(p[k])});
  }
  return sos;
}

namespace {

// Odd extension by n samples at both ends (scipy's odd_ext).
std::vector<double> odd_extend(const std::vector<double>& x, size_t n) {
  const size_t N = x.size();
  std::vector<double> e;
  e.reserve(N + 2 * n);
  for (size_t i = n; i >= 1; --i) e.push_back(2 * x[0] - x[i]);
  e.insert(e.end(), x.begin(), x.end());
  for (size_t i = 1; i <= n; ++i) e.push_back(2 * x[N - 1] - x[N - 1 - i]);
  return e;
}

// Direct form II transposed through the cascade, each section starting in the
// steady state of a constant input x0 (scipy's sosfilt_zi * x0).
void sosfilt_inplace(const std::vector<Sos>& sos, std::vector<double>& x) {
  const double x0 = x.front();
  double scale = 1;  // DC gain of the sections before this one
  for (const auto& s : sos) {
    const double b0 = s[0], b1 = s[1], b2 = s[2], a1 = s[4], a2 = s[5];
    const double H = (b0 + b1 + b2) / (1 + a1 + a2);
    double z0 = (H - b0) * scale * x0, z1 = (b2 - a2 * H) * scale * x0;
    for (auto& v : x) {
      const double in = v;
      const double y = b0 * in + z0;
      z0 = b1 * in - a1 * y + z1;
      z1 = b2 * in - a2 * y;
      v = y;
    }
    scale *= H;
  }
}

// Forward-backward moving average of L samples (scipy filtfilt of a FIR with
// odd padding 3 L; each pass holds its first value before it starts).
std::vector<double> moving_average_filtfilt(const std::vector<double>& x, int64_t L) {
  const size_t pad = static_cast<size_t>(3 * L);
  auto e = odd_extend(x, pad);
  auto pass = [&](std::vector<double>& v) {
    std::vector<double> out(v.size());
    for (size_t n = 0; n < v.size(); ++n) {
      double acc = 0;
      for (int64_t j = 0; j < L; ++j) acc += v[n >= static_cast<size_t>(j) ? n - j : 0] / static_cast<double>(L);
      out[n] = acc;
    }
    v.swap(out);
  };
  pass(e);
  std::reverse(e.begin(), e.end());
  pass(e);
  std::reverse(e.begin(), e.end());
  return std::vector<double>(e.begin() + pad, e.end() - pad);
}

}  // namespace

std::vector<double> sosfiltfilt(const std::vector<Sos>& sos, const std::vector<double>& x) {
  size_t zeros_b2 = 0, zeros_a2 = 0;
  for (const auto& s : sos) zeros_b2 += s[2] == 0, zeros_a2 += s[5] == 0;
  const size_t pad = 3 * (2 * sos.size() + 1 - std::min(zeros_b2, zeros_a2));
  if (x.size() <= pad) {
    throw std::invalid_argument("the signal has " + std::to_string(x.size()) + " samples; filtering needs more than " +
                                std::to_string(pad));
  }
  auto e = odd_extend(x, pad);
  sosfilt_inplace(sos, e);
  std::reverse(e.begin(), e.end());
  sosfilt_inplace(sos, e);
  std::reverse(e.begin(), e.end());
  return std::vector<double>(e.begin() + pad, e.end() - pad);
}

std::vector<double> ecg_clean(const std::vector<double>& raw, double rate) {
  if (!(rate > 0)) throw std::invalid_argument("ecg_clean: the sampling rate must be > 0");
  std::vector<double> x = raw;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      if (i == 0) throw std::invalid_argument("ecg_clean: the signal starts with NaN (nothing to carry forward)");
      x[i] = x[i - 1];
    }
    if (std::isinf(x[i])) throw std::invalid_argument("ecg_clean: the signal contains an infinite value");
  }
  auto y = sosfiltfilt(butter_highpass_sos(0.5, rate), x);
  const int64_t L = rate >= 100 ? static_cast<int64_t>(std::floor(rate / 50.0)) : 2;
  if (static_cast<int64_t>(y.size()) <= 3 * L) {
    throw std::invalid_argument("ecg_clean: " + std::to_string(y.size()) + " samples; the power-line filter needs more than " +
                                std::to_string(3 * L));
  }
  return moving_average_filtfilt(y, L);
}

// --------------------------------------------------------------------------
// Section 3: R-peaks

namespace {

// Mean over [i - s/2, i - s/2 + s - 1], edges replicated (uniform_filter1d, mode "nearest").
std::vector<double> boxcar(const std::vector<double>& a, int64_t s) {
  const int64_t N = static_cast<int64_t>(a.size());
  std::vector<double> out(N);
  auto at = [&](int64_t i) { return a[std::clamp<int64_t>(i, 0, N - 1)]; };
  const int64_t lo = s / 2;
  double sum = 0;
  for (int64_t j = -lo; j < -lo + s; ++j) sum += at(j);
  for (int64_t i = 0; i < N; ++i) {
    out[i] = sum / static_cast<double>(s);
    sum += at(i - lo + s) - at(i - lo);
  }
  return out;
}

int64_t rint_even(double v) { return static_cast<int64_t>(std::nearbyint(v)); }

}  // namespace

std::vector<int64_t> ecg_peaks(const std::vector<double>& x, double rate) {
  const int64_t N = static_cast<int64_t>(x.size());
  const int64_t s1 = rint_even(0.1 * rate), s2 = rint_even(0.75 * rate);
  if (s2 > N || s1 > N) {
    throw std::invalid_argument("ecg_peaks: " + std::to_string(N) + " samples; the detector needs at least " +
                                std::to_string(std::max(s1, s2)) + " (0.75 s)");
  }
  if (N < 2) return {};
  std::vector<double> a(N);
  a[0] = std::abs(x[1] - x[0]);
  a[N - 1] = std::abs(x[N - 1] - x[N - 2]);
  for (int64_t i = 1; i < N - 1; ++i) a[i] = std::abs((x[i + 1] - x[i - 1]) / 2.0);
  const auto sg = boxcar(a, s1);
  const auto ag = boxcar(sg, s2);
  std::vector<bool> q(N);
  for (int64_t i = 0; i < N; ++i) q[i] = sg[i] > 1.5 * ag[i];
  std::vector<int64_t> on, off;
  for (int64_t i = 0; i + 1 < N; ++i) {
    if (!q[i] && q[i + 1]) on.push_back(i);
    if (q[i] && !q[i + 1]) off.push_back(i);
  }
  if (on.empty()) return {};  // NeuroKit throws here; see the header
  off.erase(std::remove_if(off.begin(), off.end(), [&](int64_t o) { return o <= on.front(); }), off.end());
  const size_t pairs = std::min(on.size(), off.size());
  if (pairs == 0) return {};
  double mean_width = 0;
  for (size_t k = 0; k < pairs; ++k) mean_width += static_cast<double>(off[k] - on[k]);
  mean_width /= static_cast<double>(pairs);
  const int64_t min_delay = rint_even(0.3 * rate);
  std::vector<int64_t> peaks;
  int64_t last = 0;
  for (size_t k = 0; k < pairs; ++k) {
    const int64_t b = on[k], e = off[k];
    if (static_cast<double>(e - b) < 0.4 * mean_width) continue;
    // Local maxima of x[b..e-1] (scipy find_peaks: plateaus by their middle,
    // rounded down; never the first or last sample) and their prominences.
    const int64_t n = e - b;
    const double* s = x.data() + b;
    int64_t best = -1;
    double best_prominence = -1;
    for (int64_t i = 1; i < n - 1;) {
      if (s[i - 1] < s[i]) {
        int64_t ahead = i + 1;
        while (ahead < n - 1 && s[ahead] == s[i]) ++ahead;
        if (s[ahead] < s[i]) {
          const int64_t p = (i + ahead - 1) / 2;
          double left = s[p], right = s[p];
          for (int64_t j = p; j >= 0 && s[j] <= s[p]; --j) left = std::min(left, s[j]);
          for (int64_t j = p; j < n && s[j] <= s[p]; ++j) right = std::min(right, s[j]);
          const double prominence = s[p] - std::max(left, right);
          if (prominence > best_prominence) best_prominence = prominence, best = p;
          i = ahead;
          continue;
        }
      }
      ++i;
    }
    if (best < 0) continue;
    if (b + best - last > min_delay) {
      peaks.push_back(b + best);
      last = b + best;
    }
  }
  return peaks;
}

// --------------------------------------------------------------------------
// Section 2: indices

namespace {

double kurtosis(const std::vector<double>& x) {
  const double n = static_cast<double>(x.size());
  double mean = 0;
  for (double v : x) mean += v;
  mean /= n;
  double m2 = 0, m4 = 0;
  for (double v : x) {
    const double d = (v - mean) * (v - mean);
    m2 += d;
    m4 += d * d;
  }
  m2 /= n;
  m4 /= n;
  if (m2 <= (1e-15 * mean) * (1e-15 * mean)) return kNaN;
  return m4 / (m2 * m2) - 3.0;
}

struct Spectrum {
  std::vector<double> f, p;
};

Spectrum welch(const std::vector<double>& x, double rate) {
  const int64_t N = static_cast<int64_t>(x.size());
  int64_t nperseg = static_cast<int64_t>(std::floor(1024 * rate));
  if (nperseg > N / 2) nperseg = N / 2;
  if (nperseg < 1) throw std::invalid_argument("ecg_quality: the signal is too short for a spectrum");
  const int64_t noverlap = nperseg / 2, step = nperseg - noverlap;
  const int64_t K = (N - noverlap) / step;
  const int64_t nfft = 2 * nperseg;
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  auto signal = torch::from_blob(const_cast<double*>(x.data()), {N}, opts).clone();
  signal -= signal.mean();
  auto n = torch::arange(nperseg, opts);
  auto w = 0.5 - 0.5 * torch::cos(2 * kPi * n / static_cast<double>(nperseg));  // periodic Hann
  auto segments = signal.unfold(0, nperseg, step).slice(0, 0, K) * w;       // [K, nperseg]
  auto X = torch::fft::rfft(segments, nfft, 1);
  auto power = (X.abs().pow(2) / (rate * w.pow(2).sum())).mean(0);          // [nfft / 2 + 1]
  power.slice(0, 1, nfft / 2) *= 2;                                           // one-sided (Nyquist kept single)
  Spectrum s;
  const double df = 1.0 / (static_cast<double>(nfft) * (1.0 / rate));
  const double f_min = (2 * rate) / (static_cast<double>(N) / 2);
  auto acc = power.contiguous();
  for (int64_t k = 0; k <= nfft / 2; ++k) {
    const double f = static_cast<double>(k) * df;
    if (f < f_min) continue;
    s.f.push_back(f);
    s.p.push_back(acc.data_ptr<double>()[k]);
  }
  return s;
}

double band_power(const Spectrum& s, double lo, double hi) {
  double area = 0;
  int64_t bins = 0;
  double prev_f = 0, prev_p = 0;
  for (size_t k = 0; k < s.f.size(); ++k) {
    if (!(s.f[k] >= lo && s.f[k] < hi)) continue;
    if (bins > 0) area += 0.5 * (s.p[k] + prev_p) * (s.f[k] - prev_f);
    prev_f = s.f[k];
    prev_p = s.p[k];
    ++bins;
  }
  return bins < 2 || area == 0 ? kNaN : area;
}

Quality simple_decision(double k, double p, double b, double hr_max) {
  const double l1 = hr_max < 130 ? 0.5 : 0.4, l2 = hr_max < 130 ? 0.8 : 0.7, l3 = hr_max < 130 ? 0.4 : 0.3;
  const int p_class = (l1 < p && p < l2) ? 2 : (l3 < p && p < l1) ? 1 : 0;
  const int k_class = k > 5 ? 2 : 0;
  const int b_class = b >= 0.95 ? 2 : (b < 0.9 || std::isnan(b)) ? 0 : 1;
  int u = 0, s = 0, o = 0;
  for (int c : {p_class, k_class, b_class}) (c == 0 ? u : c == 1 ? s : o)++;
  if (u >= 2 || (u == 1 && s == 2)) return Quality::Unacceptable;
  if (o >= 2 && u == 0) return Quality::Excellent;
  return Quality::BarelyAcceptable;
}

// Section 5, literally (including its unusual membership slopes).
double fuzzy_score(double k, double p, double b) {
  double UpH, UpI, UpJ;
  if (p <= 0.25) UpH = 0;
  else if (p >= 0.35) UpH = 1;
  else UpH = 0.1 * (p - 0.25);
  if (p < 0.18 || p >= 0.32) UpI = 0;
  else if (p >= 0.18 && p < 0.22) UpI = 25 * (p - 0.18);
  else if (p >= 0.22 && p < 0.28) UpI = 1;
  else UpI = 25 * (0.32 - p);
  if (p < 0.15) UpJ = 1;
  else if (p > 0.25) UpJ = 0;
  else UpJ = 0.1 * (0.25 - p);
  const std::array<double, 3> R3 = k > 5 ? std::array<double, 3>{1, 0, 0} : std::array<double, 3>{0, 0, 1};
  double UbH, UbJ;
  if (b <= 90) UbH = 0;
  else if (b >= 95) UbH = b / 100.0;
  else UbH = 1.0 / (1.0 + 1.0 / std::pow(0.8718 * (b - 90), 2));
  if (b <= 85) UbJ = 1;
  else UbJ = 1.0 / (1.0 + std::pow((b - 85) / 5.0, 2));
  const double UbI = 1.0 / (1.0 + std::pow((b - 95) / 2.5, 2));
  const std::array<double, 3> R2{UpH, UpI, UpJ}, R4{UbH, UbI, UbJ};
  double num = 0, den = 0;
  for (int j = 0; j < 3; ++j) {
    const double S = 0.6 * R2[j] + 0.2 * R3[j] + 0.2 * R4[j];
    num += (j + 1) * S * S;
    den += S * S;
  }
  return num / den;
}

}  // namespace

EcgQuality ecg_quality(const std::vector<double>& x, double rate, const EcgQualityOptions& o) {
  if (!(rate > 0) || !std::isfinite(rate)) throw std::invalid_argument("ecg_quality: the sampling rate must be > 0");
  const auto clean = o.clean ? ecg_clean(x, rate) : x;
  for (double v : clean)
    if (!std::isfinite(v)) throw std::invalid_argument("ecg_quality: the signal contains NaN or infinite values");
  EcgQuality q;
  const auto peaks = ecg_peaks(clean, rate);  // also checks the length, as NeuroKit does in both approaches
  q.peaks = static_cast<int64_t>(peaks.size());
  if (peaks.size() >= 2) {
    int64_t min_rr = std::numeric_limits<int64_t>::max();
    for (size_t i = 1; i < peaks.size(); ++i) min_rr = std::min(min_rr, peaks[i] - peaks[i - 1]);
    q.hr_max = 60.0 * rate / static_cast<double>(min_rr);
  }
  double mean = 0, var = 0;
  for (double v : clean) mean += v;
  mean /= static_cast<double>(clean.size());
  for (double v : clean) var += (v - mean) * (v - mean);
  if (var == 0) {  // flat: see the header
    q.ksqi = q.psqi = q.bassqi = q.fuzzy_score = kNaN;
    q.simple = q.fuzzy = Quality::Unacceptable;
    return q;
  }
  q.ksqi = kurtosis(clean);
  const auto spectrum = welch(clean, rate);
  q.psqi = band_power(spectrum, 5, 15) / band_power(spectrum, 5, 40);
  const double low = band_power(spectrum, 0, 1), all = band_power(spectrum, 0, 40);
  q.bassqi = o.formula == BasSqiFormula::Old ? 1 - low / all : (1 - low) / all;
  q.simple = simple_decision(q.ksqi, q.psqi, q.bassqi, q.hr_max);
  q.fuzzy_score = fuzzy_score(q.ksqi, q.psqi, q.bassqi);
  q.fuzzy = q.fuzzy_score < 1.5 ? Quality::Excellent : q.fuzzy_score >= 2.40 ? Quality::Unacceptable : Quality::BarelyAcceptable;
  return q;
}

}  // namespace leaves::quality

namespace leaves::quality {

std::array<double, 3> QualityTally::percent(bool fuzzy_approach) const {
  const auto& c = fuzzy_approach ? fuzzy : simple;
  const double n = static_cast<double>(c[0] + c[1] + c[2]);
  std::array<double, 3> p{0, 0, 0};
  if (n > 0)
    for (int i = 0; i < 3; ++i) p[i] = 100.0 * static_cast<double>(c[i]) / n;
  return p;
}

QualityTally tally_quality(const torch::Tensor& signals, double rate, const EcgQualityOptions& options) {
  if (signals.dim() != 2) throw std::invalid_argument("tally_quality: expected signals [N, L]");
  auto x = signals.to(torch::kCPU, torch::kDouble).contiguous();
  QualityTally t;
  const int64_t N = x.size(0), L = x.size(1);
  for (int64_t i = 0; i < N; ++i) {
    const double* row = x.data_ptr<double>() + i * L;
    try {
      auto q = ecg_quality(std::vector<double>(row, row + L), rate, options);
      ++t.simple[static_cast<int>(q.simple)];
      ++t.fuzzy[static_cast<int>(q.fuzzy)];
      t.results.push_back(q);
      t.errors.emplace_back();
    } catch (const std::invalid_argument& e) {
      ++t.failed;
      t.results.emplace_back();
      t.errors.emplace_back(e.what());
    }
  }
  return t;
}

}  // namespace leaves::quality
