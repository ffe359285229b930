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
  double rate = 0;  ///< samples per second
  std::string name;

  int64_t size() const { return x.defined() ? x.size(0) : 0; }
  int64_t channels() const { return x.size(1); }
  int64_t length() const { return x.size(2); }
  /// The samples at `index` (`[K]` int64), same metadata.
  Dataset subset(const torch::Tensor& index) const;
};

struct Splits {
  Dataset train, val, test;
};

/// `s` without leading and trailing blanks (spaces, tabs, CR, LF): the one trim
/// the file readers share.
std::string trim(const std::string& s);

/// Stratified random split (per class, seeded): fractions `val` and `test` of
/// every class go to the validation and test splits, the rest to training.
Splits stratified_split(const Dataset& all, double val, double test, uint64_t seed);

}  // namespace leaves::data
