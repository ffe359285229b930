// `leaves bench pretrain`: times the adversarial pre-training step on random
// data of a given shape (warm-up steps first, then the median of several timed
// rounds), optionally a full epoch over a resident data set of a given size,
// the augmentations and the encoder apart with their operator counts, a
// profile into a chrome trace, and the bf16 loss against fp32 on the same batch.
#pragma once
#include <cstdio>
#include <string>

#include "leaves/train/pretrain.h"

namespace leaves::bench {

struct BenchArgs {  ///< the step and its shape; the rest of config as pre-training
  train::PretrainConfig config;
  int64_t channels = 1, length = 3000, steps = 10, warmup = 3, rounds = 3, epoch_size = 0;
  bool check_precision = false, breakdown = false;
  std::string trace;  ///< non-empty: profile `steps` more steps into this chrome-trace file
  std::string profiler = "auto";  ///< kineto | legacy | auto (kineto on CUDA: GPU kernels too)
};

/// Runs the benchmark, one line per figure on `out`; returns the exit status.
int bench_step(const BenchArgs& args, std::FILE* out);

}  // namespace leaves::bench
