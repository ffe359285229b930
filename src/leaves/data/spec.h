// Data specifications: one string names a data set and its options, the same on
// the command line and in config files.
//
//   synthetic                                   the built-in synthetic ECG, defaults
//   synthetic:size=1024,length=500,channels=1,rate=100,noise=0.03,seed=0,split_seed=0
//                                               (these are the defaults)
//
//   ucr:DIR[,val=0.2,missing=error|interpolate,split_seed=0]
//       a UCR archive folder DIR holding NAME_TRAIN.tsv and NAME_TEST.tsv (NAME =
//       the folder's name); the archive's TEST file is the test split and a
//       stratified fraction `val` of TRAIN the validation split
//   uea:DIR[,...]   the same for a UEA folder with NAME_TRAIN.ts and NAME_TEST.ts (or the
//       archive's .arff files: NAME_TRAIN.arff, or NAMEDimension1_TRAIN.arff ...)
//   both also take unequal=resample|pad|truncate|error and length=N: how series of
//       unequal length become one (default: resampled to the longest training series;
//       see text_series.h)
//   apnea-ecg:DIR[,val_records=5,split_seed=0]
//       the PhysioNet Apnea-ECG folder (RECORDS, event-2.txt, records with .dat):
//       one-minute segments; learning set -> train/validation by record, x -> test
//   ptb-xl:DIR[,database=ptbxl_database.csv]
//       PTB-XL at 100 Hz, superclass targets, folds 1-8 / 9 / 10
//   sleep-edf:DIR[,channel=EEG Fpz-Cz,val_subjects=2,subjects=0-19,split_seed=0]
//       Sleep-EDF sleep cassette: 30-s Fpz-Cz epochs, W/N1/N2/N3/REM, subjects by id
//   pamap2:DIR[,activities=12|11]
//       PAMAP2 protocol sessions: 52 channels, 10-s windows with 7-s overlap,
//       subjects 101-104 + 107-109 / 105 / 106
//   prepared:DIR  (or just DIR)
//       a directory written by `leaves prepare` (refused when its sources changed)
//   arrays:x=SERIES,y=LABELS[,val=0.15,test=0.15,split_seed=0]
//       your own data: SERIES a .npy [N, C, L] or [N, L] array or a .csv [N, L]
//       table, LABELS N class indices (.npy or .csv); stratified splits
//
// Every kind also takes preprocessing options, applied to all splits alike:
//   normalize=none|zscore|minmax   per (sample, channel)
//   resample=HZ                    linear resampling to a new rate (the rate must be known)
//   select=NAME+NAME...            channels by name (e.g. select=I+II+V1 for PTB-XL leads)
//
// The form is KIND[:KEY=VALUE,...]; a first item without '=' is the `path`.
#pragma once
#include <map>
#include <string>

#include "leaves/data/dataset.h"

namespace leaves::data {

struct DataSpec {
  std::string kind;
  std::map<std::string, std::string> options;
  std::string text;  ///< the spec as given
};

/// Parses KIND[:KEY=VALUE,...]; throws std::invalid_argument naming the spec.
DataSpec parse_data_spec(const std::string& text);

/// The same spec with its file and folder paths (the path, x=, y=) made
/// absolute, so that it names the same data from any working directory (a
/// run's config.json records it for --resume). Other text is kept as given.
std::string absolute_spec(const std::string& text);

/// The kinds `load_splits` knows.
std::string known_data_kinds();

/// Loads (or generates) the data set and its train / validation / test splits
/// (synthetic: 70 / 15 / 15 %, stratified, seeded by the spec's `split_seed`,
/// default 0; archives: see above).
Splits load_splits(const DataSpec& spec);

}  // namespace leaves::data
