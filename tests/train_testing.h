// Test helper: the smallest pre-training configuration that still exercises
// everything (width-4 encoder, small projection head), shared by the tests.
#pragma once
#include <string>

#include "leaves/train/finetune.h"
#include "leaves/train/pretrain.h"

namespace leaves::testing {

inline train::PretrainConfig tiny_pretrain_config(const std::string& method = "leaves",
                                                  const std::string& data = "synthetic:size=80,length=64",
                                                  int64_t epochs = 2) {
  train::PretrainConfig c;
  c.method = method;
  c.data = data;
  c.epochs = epochs;
  c.min_steps = 0;  // the epochs asked for, not a small set's step budget
  c.batch_size = 16;
  c.width = 4;
  c.projection_hidden = 32;
  c.projection_dim = 16;
  return c;
}

/// The small synthetic set of the fine-tuning, experiment and benchmark tests.
inline const char* kTinyData = "synthetic:size=96,length=96,seed=3";

/// A fine-tuning run of a few seconds on kTinyData.
inline train::FinetuneConfig tiny_finetune() {
  train::FinetuneConfig c;
  c.data = kTinyData;
  c.width = 4;
  c.epochs = 4;
  c.min_steps = 0;         // the epochs asked for
  c.validation = "split";  // select on the (small) validation split, as these tests check
  c.batch_size = 16;
  c.bootstrap = 50;
  return c;
}

/// One epoch of pre-training on kTinyData.
inline train::PretrainConfig tiny_pretrain(const std::string& method) { return tiny_pretrain_config(method, kTinyData, 1); }

}  // namespace leaves::testing
