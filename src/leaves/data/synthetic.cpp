#include "leaves/data/synthetic.h"

#include <cmath>
#include <random>
#include <stdexcept>

namespace leaves::data {

namespace {

struct Wave {
  double a, b, th;  // amplitude (mV), width (s), offset from the R peak (s)
};

// Adds a Gaussian wave centred at `centre` seconds to `out` (sampled at `rate`).
void add_wave(std::vector<double>& out, double rate, double centre, double a, double b) {
  const int64_t L = static_cast<int64_t>(out.size());
  const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor((centre - 5 * b) * rate)));
  const int64_t hi = std::min<int64_t>(L - 1, static_cast<int64_t>(std::ceil((centre + 5 * b) * rate)));
  for (int64_t t = lo; t <= hi; ++t) {
    const double d = (t / rate - centre) / b;
    out[t] += a * std::exp(-0.5 * d * d);
  }
}

}  // namespace

Dataset make_synthetic_ecg(const SyntheticEcgOptions& o) {
  if (o.size() < 2) throw std::invalid_argument("synthetic ECG: size must be >= 2, got " + std::to_string(o.size()));
  if (o.channels() < 1) throw std::invalid_argument("synthetic ECG: channels must be >= 1");
  if (o.length() < 2) throw std::invalid_argument("synthetic ECG: length must be >= 2");
  // Bounded before anything is allocated: at most 2^31 float samples (8 GiB).
  if (o.channels() > 4096 || o.length() > (int64_t{1} << 31) || o.size() > (int64_t{1} << 31) ||
      static_cast<double>(o.size()) * static_cast<double>(o.channels()) * static_cast<double>(o.length()) >
          static_cast<double>(int64_t{1} << 31)) {
    throw std::invalid_argument("synthetic ECG: size x channels x length = " + std::to_string(o.size()) + " x " +
                                std::to_string(o.channels()) + " x " + std::to_string(o.length()) +
                                " is more than 2^31 samples (channels at most 4096)");
  }
  if (!(o.rate() >= 20.0)) throw std::invalid_argument("synthetic ECG: rate must be >= 20 Hz");
  if (!(o.noise() >= 0)) throw std::invalid_argument("synthetic ECG: noise must be >= 0");

  const int64_t N = o.size(), C = o.channels(), L = o.length();
  const double rate = o.rate(), duration = L / rate;
  std::mt19937_64 rng(o.seed());
  std::uniform_real_distribution<double> U(0.0, 1.0);
  std::normal_distribution<double> G(0.0, 1.0);
  auto uni = [&](double lo, double hi) { return lo + (hi - lo) * U(rng); };

  auto x = torch::empty({N, C, L}, torch::kFloat);
  auto y = torch::empty({N}, torch::kLong);
  auto xa = x.accessor<float, 3>();
  auto ya = y.accessor<int64_t, 1>();
  const Wave base[5] = {{0.15, 0.025, -0.20}, {-0.15, 0.010, -0.05}, {1.0, 0.012, 0.0},
                        {-0.25, 0.012, 0.04}, {0.30, 0.050, 0.30}};
  std::vector<double> source(L);
  for (int64_t n = 0; n < N; ++n) {
    const int64_t label = n % 2;
    ya[n] = label;
    Wave w[5];
    for (int i = 0; i < 5; ++i) w[i] = {base[i].a * uni(0.9, 1.1), base[i].b * uni(0.9, 1.1), base[i].th};
    if (label == 1) w[0].a = 0.0;  // no P wave
    std::fill(source.begin(), source.end(), 0.0);
    const double rr0 = 60.0 / uni(55.0, 95.0);
    const double resp_f = uni(0.2, 0.35), resp_phase = uni(0, 2 * M_PI);
    double t = -uni(0.0, rr0);  // first R peak before the window starts
    while (t < duration + 1.0) {
      double rr;
      if (label == 0) {
        rr = rr0 * (1 + 0.04 * std::sin(2 * M_PI * resp_f * t + resp_phase) + 0.02 * G(rng));
      } else {
        rr = rr0 * std::clamp(1 + 0.15 * G(rng), 0.55, 1.6);
      }
      for (int i = 0; i < 5; ++i) {
        const double offset = i == 4 ? w[i].th * std::sqrt(rr) : w[i].th;
        add_wave(source, rate, t + offset, w[i].a, w[i].b);
      }
      t += rr;
    }
    if (label == 1) {  // fibrillatory waves
      const double f = uni(5.0, 8.0), amp = uni(0.03, 0.06), ph = uni(0, 2 * M_PI);
      for (int64_t i = 0; i < L; ++i) source[i] += amp * std::sin(2 * M_PI * f * i / rate + ph);
    }
    const double axis = uni(-M_PI / 6, M_PI / 2);
    for (int64_t c = 0; c < C; ++c) {
      const double angle = C == 1 ? axis : -M_PI / 2 + M_PI * c / (C - 1);
      const double gain = C == 1 ? 1.0 : std::cos(axis - angle);
      const double bw_a = uni(0.05, 0.15), bw_f = uni(0.15, 0.4), bw_ph = uni(0, 2 * M_PI);
      for (int64_t i = 0; i < L; ++i) {
        const double v = gain * source[i] + bw_a * std::sin(2 * M_PI * bw_f * i / rate + bw_ph) + o.noise() * G(rng);
        xa[n][c][i] = static_cast<float>(v);
      }
    }
  }
  Dataset d;
  d.x = x;
  d.y = y;
  d.class_names = {"sinus", "irregular"};
  for (int64_t c = 0; c < C; ++c) d.channel_names.push_back("lead" + std::to_string(c));
  d.rate = rate;
  d.name = "synthetic-ecg";
  return d;
}

}  // namespace leaves::data
