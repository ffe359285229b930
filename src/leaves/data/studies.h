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

}  // namespace leaves::data
