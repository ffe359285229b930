// The one place where differences between LibTorch versions live: Debian's
// 1.13 (CPU, the development machines and CI) and the 2.x that ships with
// PyTorch on the GPU machine. Keyed on TORCH_VERSION_MAJOR / MINOR.
#pragma once
#include <torch/version.h>

#define LEAVES_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||         \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace leaves::compat {

/// "MAJOR.MINOR.PATCH" of the LibTorch the project was compiled against.
inline const char* torch_version() { return TORCH_VERSION; }

/// Uses every core for intra-op parallelism unless OMP_NUM_THREADS says
/// otherwise (Debian's LibTorch otherwise starts with a single thread here).
void use_all_cores();

}  // namespace leaves::compat
