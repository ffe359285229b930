// The common interface of the view generators: LEAVES, ViewMaker 1D and the
// random-augmentation baseline. A generator maps a batch `[B, C, L]` to a view of
// the same shape on the same device, drawing fresh randomness on every call; it
// exposes its learnable parameters (torch::nn::Module::parameters()) and names
// the quantities worth logging, so the trainer treats all three alike.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace leaves::views {

class ViewGenerator : public torch::nn::Module {
 public:
  /// `[B, C, L]` -> `[B, C, L]`, fresh randomness on each call.
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  /// "leaves", "viewmaker" or "random".
  virtual std::string kind() const = 0;
  /// Whether the generator has parameters an adversary can train.
  virtual bool learnable() const { return !parameters().empty(); }
  /// Names of the scalars reported by `report()`, in order (e.g. "jitter_sigma").
  virtual std::vector<std::string> report_names() const = 0;
  /// The reported scalars as one detached 1-D tensor on the generator's device:
  /// one host transfer when logged. Same order as `report_names()`.
  virtual torch::Tensor report() const = 0;
};

/// `report_names()` paired with `report()` values, copied to the host.
std::vector<std::pair<std::string, double>> named_report(const ViewGenerator& generator);

}  // namespace leaves::views
