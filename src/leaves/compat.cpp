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

namespace {
// OpCounter's state: one counter at a time, shared by every thread.
std::atomic<bool> counting{false};
std::mutex counts_mutex;
std::map<std::string, int64_t> counts;
int64_t sync_count = 0;
// Per thread, for each operator being run: whether it may work itself, and
// whether a working operator ran inside it.
struct OpenOp {
  bool works = false, wraps = false;
};
thread_local std::vector<OpenOp> open_ops;

bool does_no_work(const char* name) {
  // Views, allocations and metadata; `to`, `contiguous`, `reshape`, `clone`...
  // that copy do so through a nested operator, which is the one counted.
  static const std::unordered_set<std::string> none{
      "aten::view", "aten::view_as", "aten::_reshape_alias", "aten::reshape", "aten::_unsafe_view",
      "aten::as_strided", "aten::as_strided_", "aten::slice", "aten::narrow", "aten::select", "aten::expand",
      "aten::expand_as", "aten::unsqueeze", "aten::squeeze", "aten::transpose", "aten::t", "aten::permute",
      "aten::flatten",
      "aten::unflatten", "aten::unfold", "aten::split", "aten::chunk", "aten::unbind", "aten::detach",
      "aten::alias", "aten::resolve_conj", "aten::resolve_neg", "aten::empty", "aten::empty_strided",
      "aten::empty_like", "aten::new_empty", "aten::new_empty_strided", "aten::resize_", "aten::set_",
      "aten::result_type", "aten::lift_fresh", "aten::to", "aten::contiguous", "aten::type_as",
      "aten::is_nonzero", "aten::size", "aten::stride", "aten::numel", "aten::dim", "aten::broadcast_tensors",
      "aten::_has_compatible_shallow_copy_type", "aten::requires_grad_", "aten::retain_grad",
      "aten::_shape_as_tensor", "aten::movedim", "aten::swapaxes", "aten::diagonal", "aten::real",
      "aten::imag", "aten::conj", "aten::_conj", "aten::_neg_view", "aten::positive"};
  return none.count(name) != 0;
}

// An ATen operator that may do work (not autograd's own records, which
// launch nothing themselves, nor views and allocations).
bool may_work(const char* name) {
  return name != nullptr && std::strncmp(name, "aten::", 6) == 0 && !does_no_work(name);
}

// Whether an operator only converts a number the caller wrote (`1 + x` wraps
// the 1 into a CPU tensor that is converted to x's type): its tensor inputs
// are such wrapped numbers and CPU scalars. On a GPU that number is a kernel
// argument, no kernel of its own.
bool converts_a_number(const at::RecordFunction& fn) {
  bool wrapped = false;
  for (const auto& v : fn.inputs()) {
    if (!v.isTensor()) continue;
    const auto& t = v.toTensor();
    if (!t.defined()) continue;
    if (t.unsafeGetTensorImpl()->is_wrapped_number()) {
      wrapped = true;
    } else if (t.dim() != 0 || !t.is_cpu()) {
      return false;
    }
  }
  return wrapped;
}

std::unique_ptr<at::ObserverContext> op_start(const at::RecordFunction& fn) {
  OpenOp op;
  op.works = may_work(fn.name()) && !converts_a_number(fn);
  // Every operator still open around a working one is a wrapper of it
  // (`matmul` around `mm`, `to` around `copy_`): only the innermost counts.
  // An allocation inside an operator does not make it a wrapper.
  if (op.works) {
    for (auto& o : open_ops) o.wraps = true;
  }
  open_ops.push_back(op);
  return nullptr;
}

void op_end(const at::RecordFunction& fn, at::ObserverContext*) {
  if (open_ops.empty()) return;  // began before the counter
  const OpenOp op = open_ops.back();
  open_ops.pop_back();
  if (!op.works || op.wraps || !counting.load(std::memory_order_relaxed)) return;
  const char* name = fn.name();
  std::lock_guard<std::mutex> lock(counts_mutex);
  if (std::strcmp(name, "aten::_local_scalar_dense") == 0) {
    ++sync_count;
  } else {
    ++counts[name];
  }
}
}  // namespace

OpCounter::OpCounter() {
  bool expected = false;
  if (!counting.compare_exchange_strong(expected, true)) {
    throw std::logic_error("OpCounter: another counter is alive");
  }
  reset();
  handle_ = at::addGlobalCallback(
      at::RecordFunctionCallback(op_start, op_end).needsInputs(true).scopes({at::RecordScope::FUNCTION}));
}

OpCounter::~OpCounter() {
  at::removeCallback(handle_);
  counting.store(false);
}

int64_t OpCounter::count() const {
  std::lock_guard<std::mutex> lock(counts_mutex);
  int64_t n = 0;
  for (const auto& kv : counts) n += kv.second;
  return n;
}

int64_t OpCounter::syncs() const {
  std::lock_guard<std::mutex> lock(counts_mutex);
  return sync_count;
}

std::map<std::string, int64_t> OpCounter::by_name() const {
  std::lock_guard<std::mutex> lock(counts_mutex);
  return counts;
}

void OpCounter::reset() {
  std::lock_guard<std::mutex> lock(counts_mutex);
  counts.clear();
  sync_count = 0;
}

}  // namespace leaves::compat
