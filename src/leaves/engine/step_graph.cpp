#include "leaves/engine/step_graph.h"

#include <iostream>

#ifdef LEAVES_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace leaves::engine {

#ifdef LEAVES_WITH_CUDA

struct StepGraph::Impl {
  int warmup = 3, eager_done = 0;
  bool failed = false;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  torch::Tensor input, output;

  bool fits(const torch::Tensor& batch) const {
    return graph && input.sizes() == batch.sizes() && input.scalar_type() == batch.scalar_type() &&
           input.device() == batch.device();
  }
  void drop() {
    graph.reset();
    input = output = torch::Tensor();
    eager_done = 0;
  }
};

StepGraph::StepGraph(int warmup) : impl_(std::make_unique<Impl>()) { impl_->warmup = std::max(1, warmup); }
StepGraph::~StepGraph() = default;
bool StepGraph::available() { return true; }
bool StepGraph::captured() const { return impl_->graph != nullptr; }
void StepGraph::reset() { impl_->drop(); }

torch::Tensor StepGraph::run(const torch::Tensor& batch, const Body& body) {
  auto& s = *impl_;
  if (!batch.is_cuda() || s.failed) return body(batch);
  if (s.fits(batch)) {
    s.input.copy_(batch);
    s.graph->replay();
    return s.output.clone();
  }
  if (s.graph) s.drop();  // another shape: warm up and capture again
  const c10::DeviceIndex index = batch.device().index();
  auto side = c10::cuda::getStreamFromPool(false, index);
  auto ambient = c10::cuda::getCurrentCUDAStream(index);
  if (s.eager_done < s.warmup) {
    ++s.eager_done;
    side.synchronize();
    ambient.synchronize();  // the side stream must see the batch
    torch::Tensor out;
    {
      c10::cuda::CUDAStreamGuard on_side(side);
      out = body(batch);
    }
    side.synchronize();
    return out;
  }
  s.input = batch.clone();
  ambient.synchronize();
  auto graph = std::make_unique<at::cuda::CUDAGraph>();
  try {
    c10::cuda::CUDAStreamGuard on_side(side);
    graph->capture_begin();
    try {
      s.output = body(s.input);
    } catch (...) {
      try {
        graph->capture_end();
      } catch (...) {
      }
      throw;
    }
    graph->capture_end();
  } catch (const std::exception& e) {
    std::cerr << "leaves: warning: the training step cannot be captured as a CUDA graph; running it eagerly ("
              << e.what() << ")\n";
    s.failed = true;
    s.drop();
    torch::cuda::synchronize(index);
    return body(batch);
  }
  side.synchronize();
  s.graph = std::move(graph);
  s.graph->replay();  // capturing recorded the step without running it
  return s.output.clone();
}

#else  // no CUDA in this LibTorch: the step always runs as it is

struct StepGraph::Impl {};
StepGraph::StepGraph(int) : impl_(std::make_unique<Impl>()) {}
StepGraph::~StepGraph() = default;
bool StepGraph::available() { return false; }
bool StepGraph::captured() const { return false; }
void StepGraph::reset() {}
torch::Tensor StepGraph::run(const torch::Tensor& batch, const Body& body) { return body(batch); }

#endif

}  // namespace leaves::engine
