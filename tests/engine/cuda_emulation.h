// Runs leaves' CUDA kernels on the CPU, for the tests (the build machines have
// no GPU). Include this, then the kernels' .cu file, in a translation unit of
// its own: it compiles the device code as host code (CUDA's headers define
// __global__ and __device__ as nothing for a host compiler) and replaces a
// launch by a loop over the grid's blocks, one block at a time. A block's
// threads are fibers (ucontext) on the calling thread, run in rounds, in a
// shuffled order each round: each runs until its next __syncthreads() or its
// end, so no thread passes a barrier before every thread of its block has
// reached it, and a missing barrier shows as stale data. `__shared__`
// arrays become statics, which is what they are to one block at a time.
// What this checks: indexing, tiling, the vector packs, the block reductions
// and the partials' combination; what it cannot: timing, races inside one
// interval between barriers beyond what the shuffled order exposes (fibers do
// not interleave there), and the compiler's device code
// (nvcc compiles that in the test `cuda.*_compiles`).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <ucontext.h>

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <vector>

#define LEAVES_CUDA_EMULATION 1

namespace leaves::engine::cuda::emulation {

/// The emulated GPU's multiprocessors: few, so that a small test tensor is
/// still split over several blocks and each thread strides over several rows.
inline int sm_count = 2;
/// Kernel launches so far (a test can tell that work ran).
inline int launches = 0;

inline dim3 block_idx, block_dim, grid_dim, thread_idx;
inline std::vector<float> dynamic_shared;  // the kernels' dynamic shared memory is float

struct Fiber {
  ucontext_t context;
  std::vector<char> stack;
  bool done = false;
};
inline ucontext_t scheduler;
inline std::vector<Fiber> fibers;
inline unsigned current = 0;
inline std::function<void()> body;

inline void fiber_main() {
  body();
  fibers[current].done = true;  // then uc_link: back to the scheduler
}

/// __syncthreads(): back to the scheduler, which resumes this fiber once every
/// other fiber of the block has reached its barrier (or ended).
inline void sync_threads() {
  if (swapcontext(&fibers[current].context, &scheduler) != 0) throw std::runtime_error("emulation: swapcontext");
}

/// The order the fibers run in each round: a fixed pseudo-random shuffle per
/// round, so that a read of another thread's write with no barrier between
/// them sees stale data (as it may on a GPU) instead of always the write.
inline unsigned shuffle_seed = 12345;

/// One block: `n` fibers running `body` in rounds until all have ended.
inline void run_block(unsigned n) {
  constexpr size_t kStack = 64 * 1024;
  if (fibers.size() < n) fibers.resize(n);
  for (unsigned t = 0; t < n; ++t) {
    auto& f = fibers[t];
    if (f.stack.size() < kStack) f.stack.resize(kStack);
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.data();
    f.context.uc_stack.ss_size = f.stack.size();
    f.context.uc_link = &scheduler;
    makecontext(&f.context, fiber_main, 0);
    f.done = false;
  }
  std::vector<unsigned> order(n);
  for (unsigned t = 0; t < n; ++t) order[t] = t;
  for (bool running = true; running;) {
    running = false;
    for (unsigned i = n; i > 1; --i) {  // Fisher-Yates with a small LCG: deterministic
      shuffle_seed = shuffle_seed * 1103515245u + 12345u;
      const unsigned j = (shuffle_seed >> 8) % i;
      const unsigned tmp = order[i - 1];
      order[i - 1] = order[j];
      order[j] = tmp;
    }
    for (unsigned t : order) {
      if (fibers[t].done) continue;
      current = t;
      thread_idx = dim3(t % block_dim.x, (t / block_dim.x) % block_dim.y, t / (block_dim.x * block_dim.y));
      if (swapcontext(&scheduler, &fibers[t].context) != 0) throw std::runtime_error("emulation: swapcontext");
      running = running || !fibers[t].done;
    }
  }
}

template <typename Kernel>
struct Launch {
  dim3 grid, block;
  size_t shared_bytes;
  Kernel kernel;
  template <typename... Args>
  void operator()(Args... args) const {
    grid_dim = grid, block_dim = block;
    dynamic_shared.assign((shared_bytes + sizeof(float) - 1) / sizeof(float), 0.f);
    body = [&] { kernel(args...); };
    for (unsigned z = 0; z < grid.z; ++z) {
      for (unsigned y = 0; y < grid.y; ++y) {
        for (unsigned x = 0; x < grid.x; ++x) {
          block_idx = dim3(x, y, z);
          run_block(block.x * block.y * block.z);
        }
      }
    }
    body = nullptr;
    ++launches;
  }
};
template <typename Kernel>
Launch<Kernel> make_launch(dim3 grid, dim3 block, size_t shared_bytes, Kernel kernel) {
  return {grid, block, shared_bytes, kernel};
}

}  // namespace leaves::engine::cuda::emulation

#undef __shared__
#define __shared__ static
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif
#define threadIdx (::leaves::engine::cuda::emulation::thread_idx)
#define blockIdx (::leaves::engine::cuda::emulation::block_idx)
#define blockDim (::leaves::engine::cuda::emulation::block_dim)
#define gridDim (::leaves::engine::cuda::emulation::grid_dim)
#define __syncthreads() (::leaves::engine::cuda::emulation::sync_threads())
#define LEAVES_LAUNCH(grid, block, shared, stream, ...) \
  ::leaves::engine::cuda::emulation::make_launch(grid, block, shared, &__VA_ARGS__)
#define LEAVES_DYNAMIC_SHARED(type, name) type* name = ::leaves::engine::cuda::emulation::dynamic_shared.data()
