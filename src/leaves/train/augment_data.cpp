#include "leaves/train/augment_data.h"

#include "leaves/data/spec.h"
#include "leaves/data/tables.h"
#include "leaves/io/output.h"
#include "leaves/option_error.h"

namespace leaves::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

NamedGenerator generator_by_name(const std::string& name, int64_t channels, const views::GeneratorConfig& untrained) {
  if (fs::is_directory(name)) {
    PretrainConfig config;
    auto g = trained_generator(name, &config);
    // The LEAVES module and the random augmentations act on any channel count; ViewMaker's network does not.
    if (config.views.channels != channels && config.method == "viewmaker") {
      throw OptionError("generator", " " + name + ": trained on " + std::to_string(config.views.channels) +
                                         " channel(s), the data has " + std::to_string(channels));
    }
    return g;
  }
  if (name == "leaves" || name == "viewmaker" || name == "random" || name == "simclr") {
    return untrained_generator(name == "random" ? "simclr" : name, channels, untrained);
  }
  throw OptionError("generator", " '" + name + "': not a pre-training run directory nor leaves | viewmaker | random");
}

Augmented augment_split(const AugmentOptions& o) {
  if (o.copies < 1) throw OptionError("copies", " must be >= 1, got " + std::to_string(o.copies));
  if (o.split != "train" && o.split != "val" && o.split != "test") {
    throw OptionError("split", " must be train, val or test, got '" + o.split + "'");
  }
  auto splits = data::load_splits(data::parse_data_spec(o.data));
  const auto& d = o.split == "train" ? splits.train : o.split == "val" ? splits.val : splits.test;
  if (d.targets.defined()) {
    throw OptionError("data", " '" + o.data + "': multi-label targets; augment writes class indices (single-label data)");
  }
  if (d.size() == 0) throw OptionError("data", " '" + o.data + "': the " + o.split + " split is empty");
  auto g = generator_by_name(o.generator, d.channels());
  torch::manual_seed(o.seed);
  torch::NoGradGuard no_grad;
  g.generator->eval();
  std::vector<torch::Tensor> xs, ys;
  if (o.keep_original) xs.push_back(d.x), ys.push_back(d.y);
  for (int64_t copy = 0; copy < o.copies; ++copy) {
    for (int64_t i = 0; i < d.size(); i += o.batch) {
      const auto n = std::min(o.batch, d.size() - i);
      xs.push_back(g.generator->forward(d.x.narrow(0, i, n)).to(torch::kFloat).contiguous());
    }
    ys.push_back(d.y);
  }
  Augmented a;
  a.x = torch::cat(xs);
  a.y = torch::cat(ys).to(torch::kLong);
  a.class_names = d.class_names;
  if (!torch::isfinite(a.x).all().item<bool>()) {
    throw std::runtime_error("augment: the generator " + g.label + " made non-finite values");
  }
  a.record = {{"data", o.data},
              {"data_resolved", data::absolute_spec(o.data)},
              {"split", o.split},
              {"generator", g.label},
              {"generator_source", fs::is_directory(o.generator) ? fs::absolute(o.generator).lexically_normal().string()
                                                                  : o.generator},
              {"copies", o.copies},
              {"keep_original", o.keep_original},
              {"seed", o.seed},
              {"series", a.x.size(0)},
              {"shape", a.x.sizes().vec()},
              {"class_names", a.class_names},
              {"rate", d.rate}};
  return a;
}

void write_augmented(const Augmented& a, const fs::path& dir) {
  io::require_new_or_own(dir, "--out", "augment.json", "a leaves augment output");
  fs::create_directories(dir);
  data::write_npy(dir / "x.npy", a.x);
  data::write_npy(dir / "y.npy", a.y);
  io::write_file(dir / "augment.json", a.record.dump(2) + "\n");  // last: its presence marks a complete output
}

}  // namespace leaves::train
