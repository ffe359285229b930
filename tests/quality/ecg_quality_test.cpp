// The ECG quality check against the reference values of
// ../shared/specs/ecg-quality-zhao2018.md (NeuroKit2 0.2.3 / 0.2.9 on numpy
// 1.24.2 and scipy 1.10.1): every index to 1e-4 relative, every label exactly.
#include "leaves/quality/ecg_quality.h"

#include <cmath>

#include "leaves/data/wfdb.h"
#include "testing.h"

using namespace leaves::quality;
using leaves::quality::Quality;

namespace {

std::vector<double> synthetic_beats(double first, double step, int max_beats) {
  struct Wave {
    double a, o, s;
  };
  const Wave waves[5] = {{0.10, -0.20, 0.025}, {-0.10, -0.03, 0.010}, {1.00, 0, 0.012}, {-0.15, 0.03, 0.010}, {0.25, 0.30, 0.050}};
  std::vector<double> x(1000, 0.0);
  for (int m = 0; m < max_beats; ++m) {
    const double c = first + step * m;
    if (c >= 10) break;
    for (int n = 0; n < 1000; ++n) {
      const double t = n / 100.0;
      for (const auto& w : waves) x[n] += w.a * std::exp(-std::pow(t - c - w.o, 2) / (2 * w.s * w.s));
    }
  }
  return x;
}

std::vector<double> s1() { return synthetic_beats(0.5, 1.0, 10); }
std::vector<double> s2() {
  auto x = s1();
  auto frac = [](double y) { return y - std::floor(y); };
  for (int n = 0; n < 1000; ++n) {
    double w = 0;
    for (int j = 1; j <= 64; ++j) {
      const double f = 0.5 * frac(0.6180339887498949 * j), phi = 2 * M_PI * frac(0.7548776662466927 * j);
      w += std::sin((2 * M_PI * f) * n + phi);
    }
    x[n] += 0.5 * std::sqrt(2.0 / 64) * w;
  }
  return x;
}
std::vector<double> s3() {
  std::vector<double> x(1000);
  for (int n = 0; n < 1000; ++n) x[n] = std::sin(2 * M_PI * 0.3 * n / 100);
  return x;
}
std::vector<double> s5() { return synthetic_beats(0.2, 0.4, 100); }

struct Reference {
  const char* name;
  double ksqi, psqi, bas_old, bas_new;
  int64_t peaks;
  double hr_max;
  Quality simple_old, simple_new, fuzzy_old, fuzzy_new;
};

constexpr Quality E = Quality::Excellent, B = Quality::BarelyAcceptable, U = Quality::Unacceptable;

void expect_reference(const std::vector<double>& x, double rate, const Reference& r) {
  auto old_q = ecg_quality(x, rate);
  EcgQualityOptions o;
  o.formula = BasSqiFormula::New;
  auto new_q = ecg_quality(x, rate, o);
  auto rel = [](double got, double want) { return std::abs(got - want) / std::abs(want); };
  EXPECT_LT(rel(old_q.ksqi, r.ksqi), 1e-4) << r.name << " kSQI " << old_q.ksqi;
  EXPECT_LT(rel(old_q.psqi, r.psqi), 1e-4) << r.name << " pSQI " << old_q.psqi;
  EXPECT_LT(rel(old_q.bassqi, r.bas_old), 1e-4) << r.name << " basSQI old " << old_q.bassqi;
  EXPECT_LT(rel(new_q.bassqi, r.bas_new), 1e-4) << r.name << " basSQI new " << new_q.bassqi;
  EXPECT_EQ(old_q.peaks, r.peaks) << r.name;
  EXPECT_LT(rel(old_q.hr_max, r.hr_max), 1e-9) << r.name << " HRmax " << old_q.hr_max;
  EXPECT_EQ(quality_name(old_q.simple), quality_name(r.simple_old)) << r.name << " simple, old";
  EXPECT_EQ(quality_name(new_q.simple), quality_name(r.simple_new)) << r.name << " simple, new";
  EXPECT_EQ(quality_name(old_q.fuzzy), quality_name(r.fuzzy_old)) << r.name << " fuzzy, old";
  EXPECT_EQ(quality_name(new_q.fuzzy), quality_name(r.fuzzy_new)) << r.name << " fuzzy, new";
}

}  // namespace

TEST(EcgQuality, ButterworthSectionsMatchScipy) {
  auto sos = butter_highpass_sos(0.5, 100);
  ASSERT_EQ(sos.size(), 3u);
  const double want[3][6] = {{0.95043584, -0.95043584, 0, 1, -0.96906742, 0},
                             {1, -2, 1, 1, -1.94947342, 0.95043584},
                             {1, -2, 1, 1, -1.97979631, 0.9807737}};
  for (int s = 0; s < 3; ++s)
    for (int j = 0; j < 6; ++j) EXPECT_NEAR(sos[s][j], want[s][j], 5e-9) << s << "," << j;
  // The overall denominator at 360 Hz: the product of the sections' a polynomials.
  auto at360 = butter_highpass_sos(0.5, 360);
  std::vector<double> a{1};
  for (const auto& s : at360) {
    std::vector<double> next(a.size() + 2, 0.0);
    for (size_t i = 0; i < a.size(); ++i)
      for (int j = 0; j < 3; ++j) next[i + j] += a[i] * s[3 + j];
    a = next;
  }
  const double want_a[6] = {1, -4.97176001, 9.88743836, -9.83175158, 4.88822812, -0.97215489};
  for (int j = 0; j < 6; ++j) EXPECT_NEAR(a[j], want_a[j], 1e-7) << j;
}

TEST(EcgQuality, CleaningMatchesTheDebugValues) {
  auto check = [](const std::vector<double>& x, double rate, double x0, double sum, double sum2, const char* name) {
    auto c = ecg_clean(x, rate);
    double s = 0, s2 = 0;
    for (double v : c) s += v, s2 += v * v;
    EXPECT_NEAR(c[0], x0, 1e-6 * std::abs(x0)) << name;
    EXPECT_NEAR(s, sum, 1e-6 * std::abs(sum)) << name;
    EXPECT_NEAR(s2, sum2, 1e-6 * std::abs(sum2)) << name;
  };
  check(s1(), 100, -0.02149772132, -0.2584570541, 18.53296781, "S1");
  check(s2(), 100, -0.002443522297, -2.748856546, 117.0068362, "S2");
  check(s3(), 100, -0.09737752013, 2.339274001, 0.3676509307, "S3");
  check(s5(), 100, 0.009523645441, -4.510787755, 40.40711423, "S5");
}

TEST(EcgQuality, SyntheticReferenceSignals) {
  expect_reference(s1(), 100, {"S1", 14.40442343, 0.8301878937, 0.9809380083, 53.55191721, 10, 60, B, B, E, E});
  expect_reference(s2(), 100, {"S2", 15.26211208, 0.6118149242, 0.9720047073, 8.638327639, 14, 176.4705882, E, E, E, E});
  expect_reference(s3(), 100, {"S3", 6.484137355, 0.9964251821, 0.007460066606, 26418.56669, 0, 1, U, B, E, E});
  expect_reference(s5(), 100, {"S5", 4.031019032, 0.7871014449, 0.9906060712, 25.85575868, 24, 150, U, U, B, B});
  // First R-peaks (spec section 8).
  auto p2 = ecg_peaks(ecg_clean(s2(), 100), 100);
  ASSERT_GE(p2.size(), 5u);
  EXPECT_EQ(std::vector<int64_t>(p2.begin(), p2.begin() + 5), (std::vector<int64_t>{73, 150, 184, 250, 290}));
  auto p5 = ecg_peaks(ecg_clean(s5(), 100), 100);
  EXPECT_EQ(std::vector<int64_t>(p5.begin(), p5.begin() + 3), (std::vector<int64_t>{60, 100, 140}));
}

TEST(EcgQuality, RealPtbXlAndMitBihRecords) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  auto ptb = leaves::data::read_wfdb_record(shared / "formats" / "ptb-xl" / "records100" / "00000" / "00001_lr.hea");
  auto lead = [&](int c) {
    auto t = ptb.physical[c].to(torch::kDouble).contiguous();
    return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
  };
  EXPECT_NEAR(lead(0)[0], -0.119, 1e-6);
  expect_reference(lead(0), 100, {"PTB I", 10.70179970, 0.8013273329, 0.9834320298, 144.7549991, 10, 65.2173913, B, B, E, E});
  expect_reference(lead(1), 100, {"PTB II", 3.308114640, 0.8579388053, 0.9835536498, 204.9903548, 10, 65.93406593, U, U, B, E});
  auto first = ecg_peaks(ecg_clean(lead(0), 100), 100);
  EXPECT_EQ(std::vector<int64_t>(first.begin(), first.begin() + 5), (std::vector<int64_t>{115, 208, 300, 393, 488}));

  auto mit = leaves::data::read_wfdb_record(shared / "formats" / "mit-bih" / "100.hea");
  auto mlii = [&](int64_t n) {
    auto t = mit.physical[0].slice(0, 0, n).to(torch::kDouble).contiguous();
    return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
  };
  expect_reference(mlii(21600), 360, {"MIT 60 s", 19.80527098, 0.7247345042, 0.9969369397, 55.41537505, 73, 91.91489362, E, E, E, E});
  expect_reference(mlii(3600), 360, {"MIT 10 s", 18.69009308, 0.6996211799, 0.9964537340, 59.12569676, 12, 91.91489362, E, E, E, E});
}

TEST(EcgQuality, FlatShortAndNanSignals) {
  // Flat: Unacceptable with NaN indices (section 6's recommendation).
  auto flat = ecg_quality(std::vector<double>(1000, 1.0), 100);
  EXPECT_EQ(flat.simple, Quality::Unacceptable);
  EXPECT_EQ(flat.fuzzy, Quality::Unacceptable);
  EXPECT_TRUE(std::isnan(flat.ksqi));
  auto zero = ecg_quality(std::vector<double>(1000, 0.0), 100);
  EXPECT_EQ(zero.peaks, 0);
  EXPECT_EQ(zero.hr_max, 1);
  // Too short to clean, too short for the detector.
  leaves::testing::expect_invalid_argument([] { ecg_quality(std::vector<double>(18, 0.5), 100); }, "needs more than 18");
  leaves::testing::expect_invalid_argument([] { ecg_quality(s1(), 2000); }, "the detector needs at least 1500");
  // Short signals: basSQI is NaN (fewer than 2 bins below 1 Hz), so class 0.
  auto shortx = s1();
  shortx.resize(500);
  auto q = ecg_quality(shortx, 100);
  EXPECT_TRUE(std::isnan(q.bassqi));
  // NaNs inside are carried forward; a leading NaN is an error.
  auto holes = s1();
  holes[300] = std::nan("");
  auto with_holes = ecg_quality(holes, 100);
  EXPECT_TRUE(std::isfinite(with_holes.ksqi));
  holes[0] = std::nan("");
  leaves::testing::expect_invalid_argument([&] { ecg_quality(holes, 100); }, "starts with NaN");
  leaves::testing::expect_invalid_argument([] { ecg_quality(s1(), 0); }, "rate must be > 0");
  // Invariances of the indices (section 6).
  auto x = s2();
  auto base = ecg_quality(x, 100);
  for (auto& v : x) v *= -3;
  auto scaled = ecg_quality(x, 100);
  EXPECT_NEAR(scaled.ksqi, base.ksqi, 1e-9 * base.ksqi);
  EXPECT_NEAR(scaled.psqi, base.psqi, 1e-9);
  EXPECT_NEAR(scaled.bassqi, base.bassqi, 1e-9);
}
