// A training step recorded once as a CUDA graph and replayed: one launch for
// the ~1,000 kernels of a LEAVES step (augmentations, encoder forward and
// backward, NT-Xent, both Adam updates), so the GPU never waits for the host.
//
// The step reads its batch from a static input tensor (each call copies the
// batch there) and returns a static loss tensor (each call returns a copy).
// Everything it updates in place (parameters, gradients, optimizer state,
// BatchNorm statistics, the CUDA generator's offset) lives at fixed addresses,
// which is why the optimizers are flat (flat_adam.h). Random numbers stay
// fresh: the CUDA generator hands every replay a new Philox offset.
//
// The first `warmup` calls run eagerly on a side stream (cuDNN autotuning,
// cuBLAS workspaces, the allocator), then one call captures and replays. A
// batch of another shape is captured anew. If capturing fails (an operation
// that synchronises with the host, say), the graph is dropped with one warning
// on stderr and every later call runs eagerly. Without a CUDA build, or on the
// CPU, calls simply run the step.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>

namespace leaves::engine {

class StepGraph {
 public:
  using Body = std::function<torch::Tensor(const torch::Tensor& batch)>;
  explicit StepGraph(int warmup = 3);
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  /// Whether this build can capture CUDA graphs at all.
  static bool available();
  /// Runs `body` on `batch` (replayed from the graph once captured). `body`
  /// must be the same function on every call.
  torch::Tensor run(const torch::Tensor& batch, const Body& body);
  bool captured() const;
  /// Drops the graph (after the model's tensors were rebound, say).
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace leaves::engine
