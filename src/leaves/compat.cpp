#include "leaves/compat.h"

#include <ATen/autocast_mode.h>
#include <ATen/record_function.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#ifdef LEAVES_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace leaves::compat {

namespace {
#if LEAVES_TORCH_AT_LEAST(2, 4)
bool autocast_enabled(torch::DeviceType t) { return at::autocast::is_autocast_enabled(t); }
torch::ScalarType autocast_dtype(torch::DeviceType t) { return at::autocast::get_autocast_dtype(t); }
void set_autocast(torch::DeviceType t, bool on, torch::ScalarType dtype) {
  at::autocast::set_autocast_enabled(t, on);
  at::autocast::set_autocast_dtype(t, dtype);
}
#else  // 1.13 .. 2.3: one pair of functions per device type
bool autocast_enabled(torch::DeviceType t) {
  return t == torch::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
torch::ScalarType autocast_dtype(torch::DeviceType t) {
  return t == torch::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast(torch::DeviceType t, bool on, torch::ScalarType dtype) {
  if (t == torch::kCUDA) {
    at::autocast::set_enabled(on);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(on);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
}
#endif
}  // namespace

bool autocast_on(torch::DeviceType t) { return autocast_enabled(t); }
torch::ScalarType autocast_type(torch::DeviceType t) { return autocast_dtype(t); }

AutocastGuard::AutocastGuard(const torch::Device& device, bool enabled, torch::ScalarType dtype) {
  if (!enabled) return;
  if (!device.is_cpu() && !device.is_cuda()) {
    throw std::invalid_argument("mixed precision is available on 'cpu' and 'cuda' devices only, not " + device.str());
  }
  type_ = device.type();
  was_enabled_ = autocast_enabled(type_);
  was_dtype_ = autocast_dtype(type_);
  set_autocast(type_, true, dtype);
  at::autocast::increment_nesting();
  active_ = true;
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(type_, was_enabled_, was_dtype_);
}

#ifdef LEAVES_WITH_CUDA
bool built_with_cuda() { return true; }
void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
}
std::string device_name(const torch::Device& device) {
  if (!device.is_cuda()) return "cpu";
  const auto index = device.has_index() ? device.index() : c10::cuda::current_device();
  return at::cuda::getDeviceProperties(index)->name;
}
int64_t peak_memory_bytes(const torch::Device& device) {
  if (!device.is_cuda()) return -1;
  const auto index = device.has_index() ? device.index() : c10::cuda::current_device();
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  return stats.allocated_bytes[0].peak;  // [0]: the aggregate over pool kinds
}
void reset_peak_memory(const torch::Device& device) {
  if (!device.is_cuda()) return;
  const auto index = device.has_index() ? device.index() : c10::cuda::current_device();
  c10::cuda::CUDACachingAllocator::resetPeakStats(index);
}
#else
bool built_with_cuda() { return false; }
void synchronize(const torch::Device&) {}
std::string device_name(const torch::Device& device) { return device.str(); }
int64_t peak_memory_bytes(const torch::Device&) { return -1; }
void reset_peak_memory(const torch::Device&) {}
#endif

void set_cudnn_benchmark(bool on) { at::globalContext().setBenchmarkCuDNN(on); }

}  // namespace leaves::compat
