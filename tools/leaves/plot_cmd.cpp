// `leaves plot KIND` (views, gallery, time-distortion, params, curves,
// confusion, roc: PNG + SVG through gnuplot) and `leaves report RUN_DIR`.
#include <torch/torch.h>

#include <filesystem>
#include <iostream>

#include "leaves/data/spec.h"
#include "leaves/plot/report.h"
#include "leaves/train/pretrain.h"
#include "leaves/views/factory.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

namespace fs = std::filesystem;

namespace {

struct PlotArgs {
  std::string out, run, data = "synthetic", split = "test";
  std::vector<std::string> generators, methods, runs, labels;
  int64_t index = 0, channel = 0;
  int width = 1000, height = 600;
  uint64_t seed = 0;
  views::GeneratorConfig untrained;
};

void add_size(CLI::App* cmd, PlotArgs& a) {
  cmd->add_option("--out", a.out, "output path without extension: writes OUT.png and OUT.svg")->required();
  cmd->add_option("--width", a.width, "PNG width in pixels")->check(CLI::Range(100, 10000))->capture_default_str();
  cmd->add_option("--height", a.height, "PNG height in pixels")->check(CLI::Range(100, 10000))->capture_default_str();
}

void add_signal(CLI::App* cmd, PlotArgs& a) {
  cmd->add_option("--data", a.data, "data spec or prepared directory")->capture_default_str();
  cmd->add_option("--split", a.split, "train | val | test")->check(CLI::IsMember({"train", "val", "test"}))->capture_default_str();
  cmd->add_option("--index", a.index, "which sample")->check(kNonNegative)->capture_default_str();
  cmd->add_option("--channel", a.channel, "which channel")->check(kNonNegative)->capture_default_str();
  cmd->add_option("--seed", a.seed, "random seed of the views")->check(kNonNegative)->capture_default_str();
}

// The chosen sample [1, C, L] and the data's rate.
std::pair<torch::Tensor, double> sample_of(const PlotArgs& a) {
  auto splits = data::load_splits(data::parse_data_spec(a.data));
  const auto& d = a.split == "train" ? splits.train : a.split == "val" ? splits.val : splits.test;
  if (a.index >= d.size()) {
    throw std::invalid_argument("--index " + std::to_string(a.index) + ": the " + a.split + " split has " + std::to_string(d.size()) + " samples");
  }
  if (a.channel >= d.channels()) {
    throw std::invalid_argument("--channel " + std::to_string(a.channel) + ": the data has " + std::to_string(d.channels()) + " channel(s)");
  }
  return {d.x.slice(0, a.index, a.index + 1), d.rate};
}

// A LEAVES generator: the trained one of --generator RUN, or an untrained one.
std::shared_ptr<views::LeavesImpl> leaves_generator(const PlotArgs& a, int64_t channels) {
  if (!a.generators.empty()) {
    auto g = std::dynamic_pointer_cast<views::LeavesImpl>(train::trained_generator(a.generators.front()).generator);
    if (!g) throw std::invalid_argument("--generator " + a.generators.front() + ": not a LEAVES run (method leaves)");
    return g;
  }
  auto c = a.untrained;
  c.kind = "leaves";
  c.channels = channels;
  return std::dynamic_pointer_cast<views::LeavesImpl>(views::make_generator(c));
}

int done(const PlotArgs& a) {
  std::cout << "wrote " << a.out << ".png and " << a.out << ".svg\n";
  return 0;
}

}  // namespace

Action add_plot_command(CLI::App& app) {
  auto a = std::make_shared<PlotArgs>();
  auto* plot = app.add_subcommand("plot", "Figures of the paper as PNG + SVG (gnuplot)");
  plot->require_subcommand(1);
  auto* views_cmd = plot->add_subcommand("views", "An original signal and views from generators overlaid (Fig. 1)");
  add_signal(views_cmd, *a);
  views_cmd->add_option("--generator", a->generators, "a pre-training run whose trained generator draws a view (repeatable)");
  views_cmd->add_option("--method", a->methods, "an untrained generator: leaves | viewmaker | simclr (repeatable)")
      ->check(CLI::IsMember({"leaves", "viewmaker", "simclr"}));
  add_size(views_cmd, *a);
  auto* gallery = plot->add_subcommand("gallery", "One sample through each augmentation separately (Fig. 3)");
  add_signal(gallery, *a);
  gallery->add_option("--generator", a->generators, "a LEAVES pre-training run (default: an untrained module)");
  gallery->add_option("--eta", a->untrained.eta, "untrained module: bound of the sigmas")->capture_default_str();
  add_size(gallery, *a);
  auto* td = plot->add_subcommand("time-distortion", "The mixture density over [-1, 1] and the resampled signal (Fig. 4)");
  add_signal(td, *a);
  td->add_option("--generator", a->generators, "a LEAVES pre-training run (default: an untrained module)");
  td->add_option("--mixture-components", a->untrained.mixture_components, "untrained module: M")->capture_default_str();
  add_size(td, *a);
  auto run_figure = [&](const char* name, const char* what, const char* run_kind) {
    auto* c = plot->add_subcommand(name, what);
    c->add_option("--run", a->run, run_kind)->required();
    add_size(c, *a);
    return c;
  };
  auto* params = plot->add_subcommand(
      "params", "Learned view parameters across epochs: every one of a run, or the scalar ones of several runs (Fig. 5)");
  params->add_option("--run", a->runs, "a pre-training run directory (repeatable: one line per run, as Fig. 5)")->required();
  params->add_option("--label", a->labels, "the runs' names in the legend, one per --run (default: their folder names)");
  add_size(params, *a);
  auto* curves = run_figure("curves", "Losses per epoch (pre-training) or loss and validation metric (fine-tuning)",
                            "a run directory");
  auto* confusion = run_figure("confusion", "The test confusion matrix of a fine-tuning run", "a fine-tuning run directory");
  auto* roc = run_figure("roc", "Test ROC curves of a fine-tuning run", "a fine-tuning run directory");
  return [=] {
    const plot::FigureSize size{a->width, a->height};
    torch::manual_seed(a->seed);
    torch::NoGradGuard no_grad;
    if (views_cmd->parsed()) {
      auto [x, rate] = sample_of(*a);
      plot::Series views;
      std::vector<train::NamedGenerator> generators;
      for (const auto& run : a->generators) generators.push_back(train::trained_generator(run));
      for (const auto& m : a->methods) generators.push_back(train::untrained_generator(m, x.size(1)));
      for (const auto& g : generators) {
        g.generator->eval();
        views.push_back({g.label, g.generator->forward(x)[0][a->channel]});
      }
      if (views.empty()) throw std::invalid_argument("plot views: give --generator RUN or --method M");
      plot::plot_views(x[0][a->channel], views, rate, "Original signal and views", a->out, size);
    } else if (gallery->parsed()) {
      auto [x, rate] = sample_of(*a);
      plot::figure_gallery(*leaves_generator(*a, x.size(1)), x[0][a->channel], rate, a->out, size);
    } else if (td->parsed()) {
      auto [x, rate] = sample_of(*a);
      plot::figure_time_distortion(*leaves_generator(*a, x.size(1)), x[0][a->channel], a->out, size);
    } else if (params->parsed()) {
      if (a->runs.size() == 1 && a->labels.empty()) {
        plot::figure_params(a->runs.front(), a->out, size);
      } else {
        plot::figure_params_of_runs({a->runs.begin(), a->runs.end()}, a->labels, a->out, size);
      }
    } else if (curves->parsed()) {
      plot::figure_curves(a->run, a->out, size);
    } else if (confusion->parsed()) {
      plot::figure_confusion(a->run, a->out, size);
    } else if (roc->parsed()) {
      plot::figure_roc(a->run, a->out, size);
    }
    return done(*a);
  };
}

Action add_report_command(CLI::App& app) {
  auto run = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("report", "One self-contained HTML page for a run or experiment directory");
  cmd->add_option("run", *run, "a pre-training, fine-tuning or experiment directory")->required();
  cmd->add_option("--out", *out, "the HTML file (default: RUN/report.html)");
  return [run, out] {
    const fs::path html = out->empty() ? fs::path(*run) / "report.html" : fs::path(*out);
    const auto kind = plot::write_report(*run, html);
    std::cout << "wrote " << html.string() << " (" << kind << " report; self-contained, opens offline)\n";
    return 0;
  };
}

}  // namespace leaves::cli
