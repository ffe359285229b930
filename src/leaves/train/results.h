// The results of an experiment as files: results.json (every run and the
// summary), results.csv (one line per run) and results.md (the table as in the
// paper, the Table 6 line of a SimCLR sweep, every run, the equivalent
// commands); and the small formatting helpers the tables share.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace leaves::train {

/// One line of the table: a method, or a SimCLR T(sigma) of a sweep.
struct ResultRow {
  std::string label;   ///< as shown in the table
  std::string method;  ///< supervised | simclr | viewmaker | leaves
  double sigma = 0;    ///< simclr rows
  std::string dir;     ///< under runs/
};

/// What an experiment was asked, for the files' headers.
struct ExperimentRecord {
  std::string data, preset;
  int64_t seeds = 0;
  std::vector<double> sweep_simclr;
};

/// The summary (mean, sample standard deviation and values per row and
/// metric) and the Markdown table of test metrics, "mean ± std" per cell.
struct ExperimentTable {
  nlohmann::json summary;
  std::string table;
};

/// `runs`: one record per (row, seed) with "label", "test", "val", "select",
/// optionally "svm" and "positive_similarity" (see run_experiment).
ExperimentTable summarise(const std::vector<ResultRow>& rows, const nlohmann::json& runs,
                          const std::vector<std::string>& metric_names, bool svm);

/// Writes results.json, results.csv and results.md into `out`; `results_out`
/// receives what results.json holds.
void write_experiment_results(const std::filesystem::path& out, const ExperimentRecord& record, const nlohmann::json& runs,
                              const std::vector<std::string>& metric_names, bool svm, const ExperimentTable& tables,
                              const std::vector<std::string>& commands, nlohmann::json* results_out = nullptr);

/// Mean and sample standard deviation of the finite values of `v` (NaN, NaN
/// when there are none; sd 0 for one value): the tables' "mean ± std".
std::pair<double, double> mean_and_sd(const std::vector<double>& v);
/// `v` with `digits` decimals, or "n/a" for NaN.
std::string format_fixed(double v, int digits = 3);
/// A metric's column title: "Acc.", "Macro-F1", "AUC", "Sen.", "Spec.".
const char* metric_title(const std::string& metric);
/// `v` as a stream writes it ("0.03").
std::string number_text(double v);

}  // namespace leaves::train
