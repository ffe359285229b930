// The in-memory data set every loader produces, and its splits.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace leaves::data {

/// A labelled set of time series.
struct Dataset {
  torch::Tensor x;  ///< `[N, C, L]` float32
  torch::Tensor y;  ///< `[N]` int64 class indices (-1: not single-label, see `targets`)
  torch::Tensor targets;  ///< `[N, K]` float multi-hot labels of multi-label studies; undefined otherwise
  std::vector<std::string> class_names;
  std::vector<std::string> channel_names;  ///< one per channel; empty means "ch0", "ch1", ...
  double rate = 0;  ///< samples per second; 0 when the source does not say
  std::string name;

  int64_t size() const { return x.defined() ? x.size(0) : 0; }
  int64_t channels() const { return x.size(1); }
  int64_t length() const { return x.size(2); }
  /// The samples at `index` (`[K]` int64), same metadata.
  Dataset subset(const torch::Tensor& index) const;
};

/// `a` followed by `b` (same channels, length and classes; `a`'s metadata).
/// Throws std::invalid_argument when their shapes or classes differ.
Dataset concatenate(const Dataset& a, const Dataset& b);

struct Splits {
  Dataset train, val, test;
};

/// `s` without leading and trailing blanks (spaces, tabs, CR, LF): the one trim
/// the file readers share.
std::string trim(const std::string& s);

/// The preprocessing a data spec may ask for, applied to every split alike.
struct Preprocess {
  std::string normalize = "none";          ///< none | zscore | minmax, per (sample, channel)
  double resample = 0;                     ///< target rate in Hz (0: keep)
  std::vector<std::string> select;         ///< channels to keep, by name, in this order (empty: all)
};

/// Applies `p` to `d`: channel selection, then resampling (linear
/// interpolation, first and last samples kept), then normalisation. Throws
/// std::invalid_argument for an unknown channel or a resampling of a set whose
/// rate is unknown.
Dataset preprocess(const Dataset& d, const Preprocess& p);

/// Stratified random split (per class, seeded): fractions `val` and `test` of
/// every class go to the validation and test splits, the rest to training.
Splits stratified_split(const Dataset& all, double val, double test, uint64_t seed);

}  // namespace leaves::data
