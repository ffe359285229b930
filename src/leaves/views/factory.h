// One configuration for all view generators and a factory that builds the one a
// method needs, so the command line, the config files and the trainer share a
// single description of "the views".
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>

#include "leaves/views/view_generator.h"

namespace leaves::views {

struct GeneratorConfig {
  std::string kind = "leaves";  ///< "leaves", "viewmaker" or "random"
  int64_t channels = 1;         ///< input channels C (ViewMaker needs it)
  // LEAVES
  double eta = 0.05;
  int64_t mixture_components = 5;
  int64_t max_segments = 5;
  int64_t knots = 8;  ///< magnitude and time warp knots (paper appendix A.1: "we fix k to be 8"; the reference code: 4)
  std::string interpolation = "linear";
  bool per_channel = false;  ///< per-channel time distortion / time warp
  bool normalize = false;
  std::string perm_estimator = "relaxed";
  std::string sampling = "ancestral";
  // random baseline
  double sigma = 0.03;
  // ViewMaker
  double budget = 0.05;
};

/// Builds the generator `config.kind` names; throws std::invalid_argument naming
/// the offending option for a bad configuration.
std::shared_ptr<ViewGenerator> make_generator(const GeneratorConfig& config);

}  // namespace leaves::views
