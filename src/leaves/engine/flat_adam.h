// Adam over one flat buffer: the parameters (and their gradients) become views
// into two contiguous tensors, so that zeroing the gradients is one kernel and
// an update is about fifteen kernels over the whole model, whatever its number
// of tensors, instead of ~10 per tensor. The step count lives in a device
// tensor and the bias corrections are computed there too, so an update never
// reads the host's step count: it can be captured once in a CUDA graph and
// replayed. The arithmetic is torch::optim::Adam's (no AMSGrad), with
// AdamW's decoupled weight decay wd (0: none, exactly Adam):
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr wd p
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// with the bias corrections in double precision, as torch::optim::Adam has them.
// The learning rate lives in a device tensor too: set_lr() changes it between
// steps (a learning-rate schedule) without touching a captured graph.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace leaves::engine {

/// The learning-rate factor of step `step` (0-based) of a run of `total` steps:
/// a linear warm-up over the first `warmup` steps (factor (step + 1) / warmup),
/// then "cosine" (half a cosine from 1 down to 0 at `total`) or "constant" (1).
/// Throws std::invalid_argument for another schedule name.
double lr_factor(const std::string& schedule, int64_t step, int64_t total, int64_t warmup);

class FlatAdam {
 public:
  struct Options {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double weight_decay = 0;  ///< decoupled (AdamW)
  };
  /// All parameters must share one floating dtype and one device. Their values
  /// are kept; from now on they (and their gradients) are views into this
  /// optimizer's buffers.
  FlatAdam(std::vector<torch::Tensor> params, Options options);

  /// Zeroes every gradient (one kernel). Gradients stay allocated: backward
  /// accumulates into them in place.
  void zero_grad();
  /// One Adam update from the current gradients.
  void step();
  /// Makes every parameter and gradient a view of the flat buffers again, with
  /// its current value: needed after something rebinds a parameter's storage
  /// (loading a module's state does); step() does it itself when it notices.
  void rebind();

  /// The learning rate of the next steps (one fill of a device scalar; no
  /// synchronisation).
  void set_lr(double lr);
  double base_lr() const { return options_.lr; }

  /// Updates taken so far (a host copy; reading it synchronises).
  int64_t steps() const;

  void save(torch::serialize::OutputArchive& archive) const;
  /// Throws std::invalid_argument when the archive holds state for another
  /// set of parameters. Also reads the state torch::optim::Adam saves (over
  /// the same parameters, in the same order): checkpoints of earlier versions.
  void load(torch::serialize::InputArchive& archive);

 private:
  void load_torch_adam(torch::serialize::InputArchive& archive);
  bool views_intact() const;
  std::vector<torch::Tensor> params_;
  std::vector<int64_t> offsets_;
  Options options_;
  torch::Tensor flat_param_, flat_grad_, exp_avg_, exp_avg_sq_, step_, lr_;
};

}  // namespace leaves::engine
