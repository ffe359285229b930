// `leaves views`: views of the built-in synthetic ECG or of any data set's
// samples by a trained or untrained view generator: the generator's
// parameters, how far each view is from its source, and optionally the
// signals (CSV) and parameters (JSON). `leaves augment`: a whole split through
// a generator, written as .npy arrays (leaves/train/augment_data.h).
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "leaves/data/spec.h"
#include "leaves/data/synthetic.h"
#include "leaves/train/augment_data.h"
#include "leaves/train/pretrain.h"
#include "leaves/io/output.h"
#include "leaves/views/factory.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

namespace {

struct ViewsArgs {
  views::GeneratorConfig generator;
  std::string generator_name = "leaves";  ///< a run directory or a kind
  std::string data, split = "test";        ///< empty data: the built-in synthetic ECG of the options below
  int64_t index = 0;
  int64_t count = 4, length = 1000;
  double rate = 100.0;
  uint64_t seed = 0;
  std::string device = "cpu";
  std::string out;
};

double correlation(const torch::Tensor& a, const torch::Tensor& b) {
  auto x = a.flatten().to(torch::kDouble), y = b.flatten().to(torch::kDouble);
  x = x - x.mean();
  y = y - y.mean();
  return (x * y).sum().item<double>() / std::sqrt((x * x).sum().item<double>() * (y * y).sum().item<double>() + 1e-300);
}

int run_views(const ViewsArgs& a) {
  const auto device = train::resolve_device(a.device);
  torch::manual_seed(a.seed);
  data::Dataset d;
  if (a.data.empty()) {
    d = data::make_synthetic_ecg(data::SyntheticEcgOptions()
                                     .size(std::max<int64_t>(a.count, 2))
                                     .channels(a.generator.channels)
                                     .length(a.length)
                                     .rate(a.rate)
                                     .seed(a.seed));
  } else {
    auto splits = data::load_splits(data::parse_data_spec(a.data));
    d = a.split == "train" ? splits.train : a.split == "val" ? splits.val : splits.test;
    if (a.index >= d.size()) {
      throw std::invalid_argument("--index " + std::to_string(a.index) + ": the " + a.split + " split has " +
                                  std::to_string(d.size()) + " samples");
    }
    d = d.subset(torch::arange(a.index, std::min(a.index + a.count, d.size()), torch::kLong));
  }
  const int64_t count = std::min(a.count, d.size());
  auto x = d.x.narrow(0, 0, count).to(device);
  auto named = train::generator_by_name(a.generator_name, x.size(1), a.generator);
  auto gen = named.generator;
  gen->to(device);
  torch::manual_seed(a.seed);
  torch::Tensor v1, v2;
  {
    torch::NoGradGuard no_grad;
    gen->eval();
    v1 = gen->forward(x);
    v2 = gen->forward(x);
  }
  int64_t n_params = 0;
  for (const auto& p : gen->parameters()) n_params += p.numel();

  std::cout << "generator " << named.label << ": " << n_params << " learnable parameters, input [" << count << ", "
            << x.size(1) << ", " << x.size(2) << "] on " << device << "\n";
  auto report = views::named_report(*gen);
  for (const auto& [name, value] : report) std::cout << "  " << std::left << std::setw(22) << name << value << "\n";
  std::cout << "sample  class      corr(x, view1)  corr(view1, view2)  mean|view1 - x|\n";
  auto xc = x.cpu(), c1 = v1.cpu(), c2 = v2.cpu();
  for (int64_t i = 0; i < count; ++i) {
    const int64_t label = d.y[i].item<int64_t>();
    std::printf("%6lld  %-9s  %14.4f  %18.4f  %15.4f\n", static_cast<long long>(a.index + i),
                label >= 0 && label < static_cast<int64_t>(d.class_names.size()) ? d.class_names[label].c_str() : "-", correlation(xc[i], c1[i]),
                correlation(c1[i], c2[i]), (c1[i] - xc[i]).abs().mean().item<double>());
  }

  if (!a.out.empty()) {
    std::filesystem::path dir(a.out);
    std::filesystem::create_directories(dir);
    std::ostringstream csv;
    csv << "sample,channel,t,original,view1,view2\n";
    auto xa = xc.accessor<float, 3>(), a1 = c1.accessor<float, 3>(), a2 = c2.accessor<float, 3>();
    for (int64_t i = 0; i < xc.size(0); ++i)
      for (int64_t c = 0; c < xc.size(1); ++c)
        for (int64_t t = 0; t < xc.size(2); ++t)
          csv << i << ',' << c << ',' << t << ',' << xa[i][c][t] << ',' << a1[i][c][t] << ',' << a2[i][c][t] << '\n';
    io::write_file(dir / "views.csv", csv.str());
    nlohmann::json j;
    j["generator"] = named.label;
    j["data"] = a.data.empty() ? std::string("synthetic") : a.data;
    j["learnable_parameters"] = n_params;
    j["seed"] = a.seed;
    j["shape"] = x.sizes().vec();
    for (const auto& [name, value] : report) j["report"][name] = value;
    io::write_file(dir / "views.json", j.dump(2) + "\n");
    std::cout << "wrote " << (dir / "views.csv").string() << " and " << (dir / "views.json").string() << "\n";
  }
  return 0;
}

}  // namespace

Action add_views_command(CLI::App& app) {
  auto a = std::make_shared<ViewsArgs>();
  auto* cmd = app.add_subcommand("views", "Two views of a few samples (the built-in synthetic ECG, or --data) by a view generator");
  auto& g = a->generator;
  cmd->add_option("--generator", a->generator_name,
                  "a pre-training run directory (its trained generator) or an untrained one: leaves | viewmaker | random")
      ->capture_default_str();
  cmd->add_option("--data", a->data, "a data spec or prepared directory (default: the built-in synthetic ECG below)");
  cmd->add_option("--split", a->split, "with --data: train | val | test")
      ->check(CLI::IsMember({"train", "val", "test"}))
      ->capture_default_str();
  cmd->add_option("--index", a->index, "with --data: the first sample")->check(kNonNegative)->capture_default_str();
  cmd->add_option("--count", a->count, "number of samples")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--channels", g.channels, "synthetic: leads per recording")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--length", a->length, "synthetic: samples per recording")->check(CLI::Range(2, 10000000))->capture_default_str();
  cmd->add_option("--rate", a->rate, "synthetic: sampling rate (Hz)")->check(CLI::Range(20.0, 1e6))->capture_default_str();
  cmd->add_option("--seed", a->seed, "random seed")->check(kNonNegative)->capture_default_str();
  cmd->add_option("--device", a->device, "cpu | cuda | cuda:N")->capture_default_str();
  add_schema_options(cmd, options::generator_schema(), g, {}, {"channels"});
  cmd->add_option("--out", a->out, "directory for views.csv and views.json (optional)");
  return [a] { return run_views(*a); };
}

Action add_augment_command(CLI::App& app) {
  auto o = std::make_shared<train::AugmentOptions>();
  auto out = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("augment",
                                 "A data set's split through a view generator: x.npy and y.npy for --data arrays: or NumPy");
  cmd->add_option("--generator", o->generator, "a pre-training run directory or leaves | viewmaker | random (untrained)")
      ->required();
  cmd->add_option("--data", o->data, "data spec or prepared directory")->required();
  cmd->add_option("--split", o->split, "train | val | test")->check(CLI::IsMember({"train", "val", "test"}))->capture_default_str();
  cmd->add_option("--copies", o->copies, "views per series")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_flag("--keep-original", o->keep_original, "also the series themselves, first");
  cmd->add_option("--seed", o->seed, "random seed of the views (the same seed writes the same files)")
      ->check(kNonNegative)
      ->capture_default_str();
  cmd->add_option("--out", *out, "a new folder for x.npy, y.npy and augment.json")->required();
  return [o, out] {
    const auto a = train::augment_split(*o);
    train::write_augmented(a, *out);
    std::cout << "wrote " << *out << "/x.npy [" << a.x.size(0) << ", " << a.x.size(1) << ", " << a.x.size(2) << "], y.npy and "
              << "augment.json (" << a.record["generator"].get<std::string>() << ", " << o->copies << " cop"
              << (o->copies == 1 ? "y" : "ies") << " of the " << o->split << " split)\n"
              << "next: leaves pretrain --data arrays:x=" << *out << "/x.npy,y=" << *out << "/y.npy\n";
    return 0;
  };
}

}  // namespace leaves::cli
