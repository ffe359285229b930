// Embeds a data set with the encoder of a `leaves pretrain` run and writes the
// representations as a NumPy array, with the library instead of the CLI:
//
//   embed_run RUN_DIR DATA_SPEC OUT.npy [train|val|test]
//
// e.g. embed_run runs/leaves ucr:DIR/ECG200 ecg200-test.npy test
// writes OUT.npy [N, D] float32 and OUT.labels.npy [N] int64, the same bytes as
// `leaves embed --encoder RUN_DIR --data DATA_SPEC --split SPLIT --out OUT.npy`.
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

#include "leaves/data/spec.h"
#include "leaves/engine/process.h"
#include "leaves/data/tables.h"
#include "leaves/eval/linear_probe.h"
#include "leaves/train/pretrain.h"

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) {
    std::cerr << "usage: embed_run RUN_DIR DATA_SPEC OUT.npy [train|val|test]\n";
    return 2;
  }
  const std::string run = argv[1], spec = argv[2], split = argc == 5 ? argv[4] : "test";
  const std::filesystem::path out = argv[3];
  leaves::engine::use_all_cores();  // as the leaves tool does (unless OMP_NUM_THREADS is set): the same threads, the same sums
  try {
    auto encoder = leaves::train::load_encoder(run);  // encoder.pt + encoder.json
    const auto splits = leaves::data::load_splits(leaves::data::parse_data_spec(spec));
    const leaves::data::Dataset* d = split == "train" ? &splits.train
                                     : split == "val" ? &splits.val
                                     : split == "test" ? &splits.test
                                                       : nullptr;
    if (d == nullptr) throw std::invalid_argument("split must be train, val or test, got " + split);
    if (d->channels() != encoder->options.in_channels())
      throw std::invalid_argument(run + ": the encoder takes " + std::to_string(encoder->options.in_channels()) +
                                  " channel(s), " + spec + " has " + std::to_string(d->channels()));
    const torch::Tensor z = leaves::eval::embed(encoder, d->x);  // eval mode, no gradients, batches of 256
    leaves::data::write_npy(out, z);
    leaves::data::write_npy(std::filesystem::path(out).replace_extension(".labels.npy"), d->y);
    std::cout << "embedded " << z.size(0) << " series of " << split << " into " << z.size(1) << " features: " << out.string()
              << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "embed_run: " << e.what() << "\n";
    return 1;
  }
}
