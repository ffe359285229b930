// The paper's Table 5: the ECG quality check (ecg_quality.h) of a data set's
// signals and of the views that generators (trained runs or untrained
// methods) make of them, tallied per source.
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "leaves/quality/ecg_quality.h"

namespace leaves::quality {

struct StudyOptions {
  /// 10-s signals at 100 Hz: the built-in set's default 5 s is too short for basSQI.
  std::string data = "synthetic:length=1000";
  std::string split = "test";           ///< train | val | test
  std::string channel;                  ///< name or index; "" the first
  std::vector<std::string> generators;  ///< pre-training runs whose trained generators make views
  std::vector<std::string> methods;     ///< untrained generators: leaves | viewmaker | simclr
  int64_t views = 1;                    ///< views per signal and generator
  int64_t limit = 0;                    ///< only the first N signals (0: all)
  double rate = 0;                      ///< Hz, when the data does not give it
  uint64_t seed = 0;                    ///< of the views
  bool fuzzy = false;                   ///< the fuzzy decision instead of the simple one
  BasSqiFormula formula = BasSqiFormula::Old;
  bool clean = true;                    ///< ecg_clean first
};

struct StudyRow {
  std::string source;  ///< "Original data", "LEAVES (run)", "ViewMaker, untrained", ...
  int64_t signals = 0;
  QualityTally tally;
};

struct Study {
  StudyOptions options;
  int64_t channel = 0;
  double rate = 0, seconds = 0;  ///< the signals' rate and length
  std::vector<StudyRow> rows;
  /// Assessed signals without basSQI (too short: it needs about 6 s), of all assessed.
  int64_t without_bassqi = 0, assessed = 0;

  /// The table as in the paper: percentages per decision, and the signals not assessable.
  std::string markdown() const;
  /// One line per signal: its indices and the decision, or the error.
  std::string csv() const;
  nlohmann::json to_json() const;
};

/// Loads the data, makes the views and checks every signal. Throws
/// std::invalid_argument naming the option for a bad channel or an unknown rate.
Study run_study(const StudyOptions& options);

}  // namespace leaves::quality
