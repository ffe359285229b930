#include "leaves/compat.h"

#include <torch/torch.h>

#include <cstdlib>
#include <thread>

namespace leaves::compat {

void use_all_cores() {
  if (std::getenv("OMP_NUM_THREADS") != nullptr) return;
  const unsigned n = std::thread::hardware_concurrency();
  if (n > 0) torch::set_num_threads(static_cast<int>(n));
}

}  // namespace leaves::compat
