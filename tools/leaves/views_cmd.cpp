// `leaves views`: generate views of the built-in synthetic ECG with one of the
// view generators, print the generator's parameters and how far each view is
// from its source, and optionally write the signals (CSV) and parameters (JSON).
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "leaves/data/synthetic.h"
#include "leaves/train/pretrain.h"
#include "leaves/io/output.h"
#include "leaves/views/factory.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

namespace {

struct ViewsArgs {
  views::GeneratorConfig generator;
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
  auto data = data::make_synthetic_ecg(data::SyntheticEcgOptions()
                                           .size(std::max<int64_t>(a.count, 2))
                                           .channels(a.generator.channels)
                                           .length(a.length)
                                           .rate(a.rate)
                                           .seed(a.seed));
  auto x = data.x.narrow(0, 0, a.count).to(device);
  auto gen = views::make_generator(a.generator);
  gen->to(device);
  torch::Tensor v1, v2;
  {
    torch::NoGradGuard no_grad;
    v1 = gen->forward(x);
    v2 = gen->forward(x);
  }
  int64_t n_params = 0;
  for (const auto& p : gen->parameters()) n_params += p.numel();

  std::cout << "generator " << gen->kind() << ": " << n_params << " learnable parameters, input [" << a.count << ", "
            << a.generator.channels << ", " << a.length << "] on " << device << "\n";
  auto report = views::named_report(*gen);
  for (const auto& [name, value] : report) std::cout << "  " << std::left << std::setw(22) << name << value << "\n";
  std::cout << "sample  class      corr(x, view1)  corr(view1, view2)  mean|view1 - x|\n";
  auto xc = x.cpu(), c1 = v1.cpu(), c2 = v2.cpu();
  for (int64_t i = 0; i < a.count; ++i) {
    std::printf("%6lld  %-9s  %14.4f  %18.4f  %15.4f\n", static_cast<long long>(i),
                data.class_names[data.y[i].item<int64_t>()].c_str(), correlation(xc[i], c1[i]),
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
    j["generator"] = gen->kind();
    j["learnable_parameters"] = n_params;
    j["seed"] = a.seed;
    j["shape"] = {a.count, a.generator.channels, a.length};
    for (const auto& [name, value] : report) j["report"][name] = value;
    io::write_file(dir / "views.json", j.dump(2) + "\n");
    std::cout << "wrote " << (dir / "views.csv").string() << " and " << (dir / "views.json").string() << "\n";
  }
  return 0;
}

}  // namespace

Action add_views_command(CLI::App& app) {
  auto a = std::make_shared<ViewsArgs>();
  auto* cmd = app.add_subcommand("views", "Draw two views of the built-in synthetic ECG with a view generator");
  auto& g = a->generator;
  cmd->add_option("--generator", g.kind, "leaves | viewmaker | random")
      ->check(CLI::IsMember({"leaves", "viewmaker", "random"}))
      ->capture_default_str();
  cmd->add_option("--count", a->count, "number of recordings")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--channels", g.channels, "leads per recording")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--length", a->length, "samples per recording")->check(CLI::Range(2, 10000000))->capture_default_str();
  cmd->add_option("--rate", a->rate, "sampling rate (Hz)")->check(CLI::Range(20.0, 1e6))->capture_default_str();
  cmd->add_option("--seed", a->seed, "random seed")->check(kNonNegative)->capture_default_str();
  cmd->add_option("--device", a->device, "cpu | cuda | cuda:N")->capture_default_str();
  add_generator_options(cmd, g);
  cmd->add_option("--out", a->out, "directory for views.csv and views.json (optional)");
  return [a] { return run_views(*a); };
}

}  // namespace leaves::cli
