// ECG signal quality (Zhao & Zhang 2018), as NeuroKit2's
// ecg_quality(method="zhao2018") computes it after ecg_clean(method="neurokit"):
// the paper's Table 5 check of generated views. Specification and reference
// values: ../shared/specs/ecg-quality-zhao2018.md (section numbers below).
//
// Pipeline: forward-fill NaNs; 5th-order Butterworth high-pass at 0.5 Hz run
// forward and backward (zero phase, odd extension of 18 samples); a moving
// average over one power-line period run forward and backward (section 1).
// Then three indices of the cleaned signal (section 2): kSQI (kurtosis), pSQI
// (QRS band power 5-15 Hz over 5-40 Hz) and basSQI (1 - baseline power 0-1 Hz
// over 0-40 Hz), from a Welch spectrum (Hann window, 50% overlap, computed with
// LibTorch's FFT); R-peaks by NeuroKit's gradient detector for the maximum
// heart rate (section 3); and the simple (section 4) and fuzzy (section 5)
// decisions.
//
// Choices (both documented in the spec):
// - basSQI uses the formula of NeuroKit <= 0.2.4 by default (the one LEAVES
//   used); BasSqiFormula::New is NeuroKit >= 0.2.5's amplitude-dependent one.
// - A signal whose cleaned variance is 0 (flat) is Unacceptable with NaN indices
//   (NeuroKit returns numbers from round-off noise); a signal in which the
//   detector finds no QRS onset has 0 peaks and HRmax 1 (NeuroKit throws).
// - The fuzzy label NeuroKit spells "Unnacceptable" is Quality::Unacceptable.
#pragma once
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace leaves::quality {

enum class Quality { Excellent, BarelyAcceptable, Unacceptable };
std::string quality_name(Quality q);  ///< "Excellent", "Barely acceptable", "Unacceptable"

enum class BasSqiFormula { Old, New };

/// One second-order section: b0 b1 b2 a0(=1) a1 a2 (scipy's SOS layout).
using Sos = std::array<double, 6>;

/// The 5th-order Butterworth high-pass at `cutoff` Hz for `rate` Hz, by the
/// bilinear transform with prewarping, as 3 sections (first order first), as
/// scipy.signal.butter(5, cutoff, "highpass", fs=rate, output="sos").
std::vector<Sos> butter_highpass_sos(double cutoff, double rate);

/// Zero-phase filtering by `sos` (scipy.signal.sosfiltfilt with its default odd
/// padding). Throws std::invalid_argument when the signal is too short.
std::vector<double> sosfiltfilt(const std::vector<Sos>& sos, const std::vector<double>& x);

/// ecg_clean(method="neurokit"): NaNs forward-filled (a leading NaN is an
/// error), high-pass 0.5 Hz, power-line moving average (50 Hz).
std::vector<double> ecg_clean(const std::vector<double>& raw, double rate);

/// NeuroKit's R-peak detector (section 3) on a cleaned signal: sample indices.
std::vector<int64_t> ecg_peaks(const std::vector<double>& clean, double rate);

struct EcgQuality {
  double ksqi = 0, psqi = 0, bassqi = 0;
  int64_t peaks = 0;
  double hr_max = 1;
  Quality simple = Quality::Unacceptable;
  Quality fuzzy = Quality::Unacceptable;
  double fuzzy_score = 0;  ///< V of section 5
};

struct EcgQualityOptions {
  BasSqiFormula formula = BasSqiFormula::Old;
  bool clean = true;  ///< run ecg_clean first (the assumed LEAVES pipeline); false: the input is already clean
};

/// The quality of one single-lead ECG `x` sampled at `rate` Hz. Throws
/// std::invalid_argument naming the problem for a signal too short to clean or
/// to detect beats in (fewer than max(19, 3 L + 1, rint(0.75 rate)) samples), a
/// leading NaN, or a non-positive rate.
EcgQuality ecg_quality(const std::vector<double>& x, double rate, const EcgQualityOptions& options = {});

}  // namespace leaves::quality

namespace leaves::quality {

/// The quality of many signals: one result per row of `signals` `[N, L]`, or
/// the reason the check could not be made (e.g. a signal too short), and the
/// counts per label for the simple and the fuzzy decision.
struct QualityTally {
  std::vector<EcgQuality> results;   ///< in order; failed rows hold defaults
  std::vector<std::string> errors;   ///< "" where the check ran
  std::array<int64_t, 3> simple{0, 0, 0}, fuzzy{0, 0, 0};  ///< Excellent, Barely acceptable, Unacceptable
  int64_t failed = 0;
  /// Percentages of the assessed signals (failed ones excluded) per label.
  std::array<double, 3> percent(bool fuzzy_approach) const;
};
QualityTally tally_quality(const torch::Tensor& signals, double rate, const EcgQualityOptions& options = {});

}  // namespace leaves::quality
