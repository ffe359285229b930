// Test helper: the smallest pre-training configuration that still exercises
// everything (width-4 encoder, small projection head), shared by the tests.
#pragma once
#include <string>

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

}  // namespace leaves::testing
