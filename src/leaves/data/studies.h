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

/// The 30-s epochs of a Sleep-EDF hypnogram (EDF+ annotations "Sleep stage W",
/// "Sleep stage 1".."4", "Sleep stage R", "Sleep stage ?", "Movement time"):
/// entry i is the stage of the epoch starting at 30 i seconds, as a class index
/// W = 0, N1 = 1, N2 = 2, N3 = 3 (stages 3 and 4 merged), REM = 4, or -1 for
/// "?" and movement. Throws for an unknown label or a stage that is not a whole
/// number of epochs.
std::vector<int64_t> read_hypnogram_epochs(const std::filesystem::path& hypnogram);

struct SleepEdfOptions {
  std::filesystem::path root;         ///< folder holding the *-PSG.edf and *-Hypnogram.edf files
  std::string channel = "EEG Fpz-Cz";
  double train_fraction = 0.75;       ///< first subjects by id for training (paper B.3), rest for test
  int64_t val_subjects = 2;           ///< training subjects held out for validation (seeded)
  uint64_t seed = 0;
  int64_t wake_margin = 60;           ///< wake epochs kept before and after the sleep period (30 min)
  /// Subjects kept (empty: every subject found). The paper's 42,308 epochs are
  /// the Sleep-EDF 2013 cohort: subjects 0-19 (39 nights; paper 4.2 after
  /// Supratak & Guo 2020). A listed subject without recordings is an error.
  std::vector<int> subjects;
};

/// Subject ids written as the specs write lists: "0-19", "3+7+12", "0-4+9".
/// Throws std::invalid_argument for anything else.
std::vector<int> parse_subjects(const std::string& text);

/// The Sleep-EDF cassette files under `root` of each kept subject (all when
/// `subjects` is empty), by the names PhysioNet gives them: subject ss is
/// SC4ssN*; *-PSG.edf and *-Hypnogram.edf are listed alike. Throws for a
/// listed subject with no file.
std::map<int, std::vector<std::filesystem::path>> sleep_edf_files(const std::filesystem::path& root,
                                                                  const std::vector<int>& subjects,
                                                                  const std::string& suffix);

/// Sleep-EDF expanded, sleep cassette (Kemp et al. 2018; paper B.3): 30-s
/// epochs `[N, 1, 3000]` of the Fpz-Cz EEG at 100 Hz labelled W, N1, N2, N3,
/// REM; "?" and movement epochs dropped; wake trimmed to `wake_margin` epochs
/// around the sleep period (Supratak & Guo 2020). Each PSG file is paired with
/// the hypnogram sharing its first 7 characters (SC4ssN); subjects are ss.
Splits build_sleep_edf(const SleepEdfOptions& options);

struct Pamap2Options {
  std::filesystem::path root;  ///< folder holding subject101.dat ... subject109.dat (or a Protocol/ subfolder)
  /// Activity ids kept, mapped to classes 0..K-1 in this order. Default: the 12
  /// protocol activities (the paper's setting, paper B.4); the ViewMaker code
  /// keeps 11 (without rope jumping, 24).
  std::vector<int> activities{1, 2, 3, 4, 5, 6, 7, 12, 13, 16, 17, 24};
  int64_t window = 1000;  ///< 10 s at 100 Hz
  int64_t stride = 300;   ///< 3 s: windows overlap by 7 s
};

/// PAMAP2 (Reiss & Stricker 2012; paper B.4): the 52 channels (heart rate and
/// 3 x 17 IMU columns) with missing values linearly interpolated per channel,
/// cut into 10-s windows with 7-s overlap that lie within one kept activity
/// (windows that straddle two activities are dropped); subjects 101-104 and
/// 107-109 train, 105 validation, 106 test. `x` `[N, 52, 1000]`.
Splits build_pamap2(const Pamap2Options& options);

}  // namespace leaves::data
