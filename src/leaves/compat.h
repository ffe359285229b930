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

/// Uses every core for intra-op parallelism unless OMP_NUM_THREADS says
/// otherwise (Debian's LibTorch otherwise starts with a single thread here).
void use_all_cores();

/// Keeps freed memory in the process (glibc: large blocks from the heap instead
/// of fresh mappings, no trimming back to the system), so that a training
/// step's activations, allocated and freed every step, are not zero-filled by
/// the kernel page by page again each time. Measured on the CPU step at
/// B = 32, L = 1000: minor page faults 1.0 M -> 0.2 M over 14 steps, system
/// time 2.8 -> 1.6 s. Does nothing where the C library is not glibc, or when
/// GLIBC_TUNABLES / MALLOC_*_ variables already set these.
void keep_freed_memory();

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

/// Counts, while alive, ATen's operators that do work, on every thread: an
/// operator counts unless it only makes a view, allocates or reads metadata
/// (`view`, `slice`, `expand`, `empty`...), only converts a number written in
/// the code (`1 + x`: a kernel argument on a GPU), or another working operator ran
/// inside it (then it wraps that one: `matmul` around `mm`, `to` around
/// `copy_`; the inner one counts). On a GPU each counted operator is about one
/// kernel launch, so the count of an eager pass approximates how many kernels
/// it launches (and a CUDA graph of it replays): an operator that launches its
/// own kernel besides calling another (a sort that first copies) counts once,
/// and kernels launched without an ATen operator (leaves' own CUDA kernels)
/// not at all. Host synchronisations (`aten::_local_scalar_dense`, i.e.
/// `.item()`) are counted apart. One counter at a time (else std::logic_error).
class OpCounter {
 public:
  OpCounter();
  ~OpCounter();
  OpCounter(const OpCounter&) = delete;
  OpCounter& operator=(const OpCounter&) = delete;
  /// Operators that did work since construction or the last reset().
  int64_t count() const;
  /// Host synchronisations since construction or the last reset().
  int64_t syncs() const;
  /// count() by operator name.
  std::map<std::string, int64_t> by_name() const;
  void reset();

 private:
  uint64_t handle_ = 0;
};

}  // namespace leaves::compat
