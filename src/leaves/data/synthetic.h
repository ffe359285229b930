// The built-in synthetic physiological data set: ECG-like recordings generated
// in code from a seed, so that leaves runs (and its tests run) without any
// download.
//
// Model: each beat is a sum of five Gaussian waves P, Q, R, S, T (amplitude a,
// width b seconds, offset th seconds from the R peak), the time-domain form of
// the dynamical model of McSharry et al. 2003:
//     P (0.15, 0.025, -0.20)  Q (-0.15, 0.010, -0.05)  R (1.0, 0.012, 0)
//     S (-0.25, 0.012, 0.04)  T (0.30, 0.050, 0.30 sqrt(RR))
// with per-recording jitter of every amplitude and width (+-10 %).
// Classes (differing in rhythm and morphology):
//   0 "sinus": heart rate ~ U(55, 95) bpm, respiratory sinus arrhythmia (RR
//     modulated 4 % at 0.2-0.35 Hz) and 2 % beat-to-beat variability;
//   1 "irregular": atrial-fibrillation-like: RR intervals irregular (15 %
//     beat-to-beat), no P wave, fibrillatory f-waves (5-8 Hz, 0.03-0.06 mV).
// Every recording adds baseline wander (0.05-0.15 mV at 0.15-0.4 Hz) and white
// noise (standard deviation `noise`). With C > 1 channels, lead c sees the
// cardiac source with gain cos(axis - angle_c) (angles spread over 180 degrees,
// a random heart axis per recording) and its own wander and noise.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "leaves/data/dataset.h"

namespace leaves::data {

struct SyntheticEcgOptions {
  TORCH_ARG(int64_t, size) = 1024;     ///< recordings N (balanced classes)
  TORCH_ARG(int64_t, channels) = 1;    ///< leads C
  TORCH_ARG(int64_t, length) = 500;    ///< samples per recording L (5 s)
  TORCH_ARG(double, rate) = 100.0;     ///< Hz
  TORCH_ARG(double, noise) = 0.03;     ///< white-noise standard deviation (mV)
  TORCH_ARG(uint64_t, seed) = 0;
};

/// Generates the data set; the same options give the same tensors on any run.
Dataset make_synthetic_ecg(const SyntheticEcgOptions& options = {});

}  // namespace leaves::data
