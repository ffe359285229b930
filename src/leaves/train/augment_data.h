// Learned views on a user's own data: any data set through a trained (or an
// untrained) view generator. The paper's point in 5.3: the learned parameters
// are reusable augmentations.
//
//   leaves views --data D --generator RUN    a few samples and their views, printed
//   leaves augment --generator RUN --data D --copies N --out DIR
//       DIR/x.npy [N', C, L] float32 and DIR/y.npy [N'] int64, which
//       `--data arrays:x=DIR/x.npy,y=DIR/y.npy` and NumPy read; DIR/augment.json
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "leaves/data/dataset.h"
#include "leaves/train/pretrain.h"

namespace leaves::train {

/// A generator as a user names it: a pre-training run directory (its trained
/// generator) or a kind, leaves | viewmaker | random | simclr (untrained,
/// `untrained`'s options, `channels` channels). Throws OptionError("generator")
/// for anything else, or for a run trained on another channel count.
NamedGenerator generator_by_name(const std::string& run_or_kind, int64_t channels,
                                 const views::GeneratorConfig& untrained = {});

struct AugmentOptions {
  std::string data;               ///< data spec
  std::string split = "train";    ///< train | val | test
  std::string generator;          ///< run directory or kind (generator_by_name)
  int64_t copies = 1;             ///< views per series
  bool keep_original = false;     ///< also the series themselves, first
  uint64_t seed = 0;              ///< the views' randomness: the same seed gives the same files
  int64_t batch = 256;            ///< series per generator call (with the seed, it fixes the draw)
};

struct Augmented {
  torch::Tensor x;  ///< [N', C, L] float32: copy 0 of every series, then copy 1, ...
  torch::Tensor y;  ///< [N'] int64
  std::vector<std::string> class_names;
  nlohmann::json record;  ///< what augment.json holds
};

/// The views of a split. Single-label data only (arrays: reads class indices).
Augmented augment_split(const AugmentOptions& options);

/// DIR/x.npy, DIR/y.npy and DIR/augment.json, each written whole (a new or
/// empty folder, or an earlier augment output).
void write_augmented(const Augmented& a, const std::filesystem::path& dir);

}  // namespace leaves::train
