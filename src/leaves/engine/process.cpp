#include "leaves/engine/process.h"

#include <torch/torch.h>

#include <cstdlib>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace leaves::engine {

void use_all_cores() {
  if (std::getenv("OMP_NUM_THREADS") != nullptr) return;
  const unsigned n = std::thread::hardware_concurrency();
  if (n > 0) torch::set_num_threads(static_cast<int>(n));
}

void keep_freed_memory() {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables != nullptr && std::strstr(tunables, "malloc") != nullptr) ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr) {
    return;  // the user's settings win
  }
  mallopt(M_MMAP_THRESHOLD, 32 << 20);            // glibc's maximum on 64-bit
  mallopt(M_TRIM_THRESHOLD, 1 << 30);             // keep up to 1 GiB free at the top of the heap
#endif
}

}  // namespace leaves::engine
