// EDF and EDF+ files (European Data Format) through EDFlib (Debian libedf-dev):
// signal headers, physical samples of a signal chosen by its label, and EDF+
// annotations (onset, duration, text), e.g. the hypnograms of Sleep-EDF.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "leaves/data/dataset.h"

namespace leaves::data {

struct EdfSignalInfo {
  std::string label;   ///< trimmed
  double rate = 0;     ///< samples per second
  int64_t samples = 0; ///< in the whole file
  std::string unit;    ///< physical dimension, e.g. "uV"
};

struct EdfAnnotation {
  double onset = 0;     ///< seconds from the start of the file
  double duration = -1; ///< seconds; -1 when the annotation has none
  std::string text;
};

struct EdfInfo {
  bool plus = false;      ///< EDF+ (else plain EDF)
  double duration = 0;    ///< seconds
  std::vector<EdfSignalInfo> signals;
  std::vector<EdfAnnotation> annotations;  ///< EDF+ only
};

/// Reads the header and all annotations; throws std::invalid_argument naming
/// the file and what EDFlib found wrong.
EdfInfo read_edf_info(const std::filesystem::path& file);

/// Physical samples `[samples]` (float32) of the signal labelled `label`
/// (labels compared after trimming blanks); an unknown label is an error
/// listing the labels present.
torch::Tensor read_edf_signal(const std::filesystem::path& file, const std::string& label);

}  // namespace leaves::data
