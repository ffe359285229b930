#include "leaves/engine/op_counter.h"

#include <ATen/record_function.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_set>
#include <vector>

namespace leaves::engine {

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

}  // namespace leaves::engine
