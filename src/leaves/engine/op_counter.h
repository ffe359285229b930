// Counting the ATen operators a pass runs (about the kernels it launches on a GPU).
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace leaves::engine {

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

}  // namespace leaves::engine
