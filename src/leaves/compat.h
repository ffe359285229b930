// The one place where differences between LibTorch versions live: Debian's
// 1.13 (CPU, the development machines and CI) and the 2.x that ships with
// PyTorch on the GPU machine. Keyed on TORCH_VERSION_MAJOR / MINOR. CUDA-only
// code is compiled when CMake found a CUDA LibTorch (LEAVES_WITH_CUDA).
#pragma once
#include <torch/torch.h>
#include <torch/version.h>

#include <cstdint>
#include <map>
#include <string>

#define LEAVES_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||         \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace leaves::compat {

/// "MAJOR.MINOR.PATCH" of the LibTorch the project was compiled against.
inline const char* torch_version() { return TORCH_VERSION; }

/// Autocast (automatic mixed precision) on `device`'s type for the guard's
/// lifetime: matrix products and convolutions run in `dtype`, the rest as
/// PyTorch's autocast lists say. Disabled (`enabled` false) it changes nothing.
/// Restores the previous state and clears the cast cache when the outermost
/// guard ends (weights cast inside belong to this forward pass only).
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, bool enabled, torch::ScalarType dtype = torch::kBFloat16);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false, was_enabled_ = false;
  torch::DeviceType type_ = torch::kCPU;
  torch::ScalarType was_dtype_ = torch::kBFloat16;
};

/// Whether autocast is on for device type `t` at this point (e.g. inside an
/// AutocastGuard).
bool autocast_on(torch::DeviceType t);
/// The type autocast casts matrix products and convolutions to on `t`.
torch::ScalarType autocast_type(torch::DeviceType t);

/// Whether this build can drive CUDA directly (graphs, streams, memory stats).
bool built_with_cuda();
/// Waits for all work queued on `device` (nothing on the CPU).
void synchronize(const torch::Device& device);
/// Human-readable device: the GPU's name, or "cpu".
std::string device_name(const torch::Device& device);
/// Peak bytes allocated by the caching allocator on a CUDA device since the
/// last reset (-1 on the CPU or without CUDA support).
int64_t peak_memory_bytes(const torch::Device& device);
void reset_peak_memory(const torch::Device& device);
/// cuDNN autotuning of convolution algorithms for fixed shapes.
void set_cudnn_benchmark(bool on);

}  // namespace leaves::compat
