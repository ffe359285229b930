// `leaves benchmark`: one protocol over several UCR/UEA sets, one table beside
// published figures, and the paired comparison of LEAVES against SimCLR with
// random augmentations (the comparison the paper is about).
//
// For every set, a whole `leaves experiment` (experiment.h) runs into
// OUT/sets/NAME (resumable: a re-run skips finished runs, and sets may be
// added). Then:
//
// OUT/benchmark.json   every set's summary, the published figures, the comparisons
// OUT/benchmark.csv    one row per set: our columns (mean, std) and the published ones
// OUT/benchmark.md     the table, "at or above the published figure" counts, and
//                      LEAVES against SimCLR: wins / ties / losses, mean
//                      difference and a Wilcoxon signed-rank test, over
//                      (set, seed) pairs and over set means, fine-tuned and SVM
#pragma once
#include <filesystem>
#include <iosfwd>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "leaves/train/experiment.h"

namespace leaves::train {

struct BenchmarkConfig {
  std::vector<std::string> sets;  ///< folders under `root` (a UCR or UEA set each; the kind is read from its files)
  std::filesystem::path root;
  std::filesystem::path published;  ///< CSV: `set,COLUMN,...` accuracies in [0, 1], blank = none; optional
  std::string data_options;         ///< extra data-spec options for every set, e.g. "normalize=zscore"
  /// The protocol: methods, seeds, pre-training and fine-tuning settings.
  /// Per set, the pre-training batch is min(batch, training split) (said).
  ExperimentConfig experiment;
};

/// Published accuracies: set name -> column -> value. Throws
/// std::invalid_argument naming the file and line for a malformed row.
struct PublishedTable {
  std::vector<std::string> columns;
  std::map<std::string, std::map<std::string, double>> values;
};
PublishedTable read_published(const std::filesystem::path& csv);

/// The data spec of a set folder: "ucr:DIR" for NAME_TRAIN.tsv, "uea:DIR" for
/// NAME_TRAIN.ts or the .arff files of the UEA archive; throws naming what it
/// looked for.
std::string set_spec(const std::filesystem::path& dir);

struct PairedComparison {
  int64_t n = 0, wins = 0, ties = 0, losses = 0;  ///< a against b; ties: |a - b| <= 1e-9
  double mean_difference = 0;                      ///< mean of a - b
  double p_value = 1;                              ///< Wilcoxon signed-rank, two-sided, exact
  nlohmann::json to_json() const;
};

/// a[i] against b[i].
PairedComparison compare_paired(const std::vector<double>& a, const std::vector<double>& b);

/// The two-sided p-value of the Wilcoxon signed-rank test of `differences`
/// (zeros dropped, tied magnitudes given their mean rank), exact: the null
/// distribution of the positive rank sum is counted over all 2^n signs.
double wilcoxon_signed_rank_p(const std::vector<double>& differences);

/// Runs (or continues) the benchmark into `out`; returns benchmark.json's content.
nlohmann::json run_benchmark(const BenchmarkConfig& config, const std::filesystem::path& out, std::ostream* progress);

}  // namespace leaves::train
