// Study builders: the paper's data sets (Appendix B) from their raw files as
// published, with the paper's splits.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "leaves/data/dataset.h"

namespace leaves::data {

/// The per-minute answers of the Apnea-ECG test set (`event-2.txt`): for each
/// record, one label per minute, 1 = apnea (A), 0 = normal (N).
std::map<std::string, std::vector<int64_t>> read_apnea_answers(const std::filesystem::path& file);

struct ApneaEcgOptions {
  std::filesystem::path root;  ///< folder with RECORDS, event-2.txt and the a/b/c/x records
  int64_t val_records = 5;     ///< learning-set records held out for validation (by record)
  uint64_t seed = 0;           ///< chooses the validation records
};

/// Apnea-ECG (Penzel et al. 2000; paper B.2): the single-lead ECG at 100 Hz cut
/// into one-minute segments of 6000 samples aligned with the minute labels,
/// `x` `[N, 1, 6000]`, classes {normal, apnea}. Learning-set records (a, b, c in
/// RECORDS) are labelled by their `.apn` files and split into training and
/// validation by record; the test records (x) are labelled by `event-2.txt`.
/// Minutes whose segment runs past the end of the signal are dropped.
Splits build_apnea_ecg(const ApneaEcgOptions& options);

/// The diagnostic superclass of every diagnostic SCP statement code
/// (`scp_statements.csv`: rows with diagnostic = 1, column diagnostic_class).
std::map<std::string, std::string> read_ptbxl_superclasses(const std::filesystem::path& statements);

/// The statement codes and likelihoods of a PTB-XL `scp_codes` entry, a Python
/// dict literal such as "{'NORM': 100.0, 'SR': 0.0}".
std::map<std::string, double> parse_scp_codes(const std::string& text);

struct PtbXlOptions {
  std::filesystem::path root;                    ///< folder with the database CSV, scp_statements.csv, records100/
  std::string database = "ptbxl_database.csv";   ///< the database table, relative to root
};

/// PTB-XL (Wagner et al. 2020; paper B.1): the 100 Hz records `[N, 12, 1000]`
/// with the five diagnostic superclasses NORM, MI, STTC, CD, HYP as multi-hot
/// `targets` (every diagnostic code of a record counts, whatever its likelihood,
/// as in the dataset's own example code; records without any are left out),
/// `y` = the superclass of single-label records and -1 for the others, and the
/// recommended folds: 1-8 train, 9 validation, 10 test.
Splits build_ptbxl(const PtbXlOptions& options);

}  // namespace leaves::data
