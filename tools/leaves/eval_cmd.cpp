// `leaves finetune`, `leaves supervised`, `leaves embed`, `leaves probe` and
// `leaves experiment`: downstream evaluation on top of the library.
#include <torch/torch.h>

#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "leaves/data/spec.h"
#include "leaves/data/tables.h"
#include "leaves/eval/linear_probe.h"
#include "leaves/eval/probe.h"
#include "leaves/eval/svm_probe.h"
#include "leaves/eval/metrics.h"
#include "leaves/train/benchmark.h"
#include "leaves/train/experiment.h"
#include "leaves/train/finetune.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

namespace fs = std::filesystem;

namespace {

/// The options of a fine-tuning run (the schema's, leaves/train/options.h) but
/// those of one command only: --encoder and --linear (finetune), --width
/// (supervised), and --sync-batchnorm (registered with --dist-timeout).
void add_finetune_options(CLI::App* cmd, train::FinetuneConfig& c) {
  add_schema_options(cmd, options::finetune_schema(), c, {}, {"encoder", "linear", "width", "sync_batchnorm"});
}

std::string fmt(double v) {
  if (std::isnan(v)) return "n/a";
  std::ostringstream s;
  s << std::fixed << std::setprecision(4) << v;
  return s.str();
}

void print_metrics(const eval::Metrics& m, const std::vector<std::string>& classes) {
  for (const char* n : {"accuracy", "macro_f1", "auc", "sensitivity", "specificity"}) {
    const double v = m.get(n);
    if (std::isnan(v)) continue;
    std::cout << "  " << std::left << std::setw(12) << n << " " << fmt(v);
    auto it = m.ci95.find(n);
    if (it != m.ci95.end()) std::cout << "  [95% CI " << fmt(it->second.first) << ", " << fmt(it->second.second) << "]";
    if (m.positive >= 0 && (std::string(n) == "sensitivity" || std::string(n) == "auc")) {
      std::cout << "  (positive class: "
                << (m.positive < static_cast<int64_t>(classes.size()) ? classes[m.positive] : std::to_string(m.positive)) << ")";
    }
    std::cout << "\n";
  }
  if (!m.confusion.empty()) {
    std::cout << "  confusion (rows: true, columns: predicted)\n";
    for (size_t i = 0; i < m.confusion.size(); ++i) {
      std::cout << "    " << std::left << std::setw(14) << (i < classes.size() ? classes[i] : std::to_string(i));
      for (auto c : m.confusion[i]) std::cout << std::right << std::setw(7) << c;
      std::cout << "\n";
    }
  }
}

/// --sync-batchnorm and --dist-timeout, for runs under a launcher.
std::shared_ptr<double> add_data_parallel_options(CLI::App* cmd, train::FinetuneConfig& c) {
  auto timeout = std::make_shared<double>(0);
  add_schema_options(cmd, options::finetune_schema(), c, {"sync_batchnorm"});
  cmd->add_option("--dist-timeout", *timeout,
                  "data-parallel: seconds to wait for a peer before failing (default: LEAVES_DIST_TIMEOUT or 300)")
      ->check(kPositive);
  return timeout;
}

int run_finetune(const train::FinetuneConfig& c, const std::string& out, double dist_timeout) {
  c.validate();
  // Data-parallel when a launcher (torchrun, srun, leaves launch) set the world.
  auto comm = connect_world(c.device, dist_timeout);
  if (comm && comm->rank() != 0) {
    train::finetune(c, out, nullptr, comm);
    return 0;
  }
  std::cout << (c.encoder.empty() ? "supervised baseline" : (c.linear ? "linear probe on " : "fine-tuning ") + c.encoder)
            << " on " << c.data << " (" << c.epochs << " epochs, labels " << c.labels << ") into " << out << "\n";
  if (comm) std::cout << comm->size() << " workers (" << comm->backend() << "), batch " << c.batch_size << " per worker\n";
  auto r = train::finetune(c, out, &std::cout, comm);
  std::cout << "test (" << r.test.samples << " samples, evaluated once with the epoch-" << r.best_epoch
            << " weights selected on validation " << r.select << "):\n";
  print_metrics(r.test, r.class_names);
  std::cout << "run directory: " << out << " (metrics.json, log.jsonl, model.pt, test_predictions.csv)\n";
  return 0;
}

}  // namespace

Action add_finetune_command(CLI::App& app) {
  auto c = std::make_shared<train::FinetuneConfig>();
  auto out = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("finetune", "Fine-tune a pre-trained encoder with a classifier head (or --linear)");
  add_schema_options(cmd, options::finetune_schema(), *c, {"encoder", "linear"}).at("encoder")->required();
  add_finetune_options(cmd, *c);
  cmd->add_option("--out", *out, "run directory to create")->required();
  auto timeout = add_data_parallel_options(cmd, *c);
  return [c, out, timeout] { return run_finetune(*c, *out, *timeout); };
}

Action add_supervised_command(CLI::App& app) {
  auto c = std::make_shared<train::FinetuneConfig>();
  auto out = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("supervised", "The supervised baseline: ResNet-18 1D + head from random weights");
  add_schema_options(cmd, options::finetune_schema(), *c, {"width"});
  add_finetune_options(cmd, *c);
  cmd->add_option("--out", *out, "run directory to create")->required();
  auto timeout = add_data_parallel_options(cmd, *c);
  return [c, out, timeout] { return run_finetune(*c, *out, *timeout); };
}

Action add_embed_command(CLI::App& app) {
  struct Args {
    std::string encoder, data = "synthetic", out, split = "test";
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("embed", "Write the encoder's representations of a split as a .npy [N, D] array");
  cmd->add_option("--encoder", a->encoder, "a pre-training run directory")->required();
  cmd->add_option("--data", a->data, "data spec or prepared directory")->capture_default_str();
  cmd->add_option("--split", a->split, "train | val | test")->check(CLI::IsMember({"train", "val", "test"}))->capture_default_str();
  cmd->add_option("--out", a->out, "the .npy file to write (labels go to FILE.labels.npy)")->required();
  return [a] {
    auto encoder = train::load_encoder(a->encoder);
    auto splits = data::load_splits(data::parse_data_spec(a->data));
    const auto& d = a->split == "train" ? splits.train : a->split == "val" ? splits.val : splits.test;
    if (d.channels() != encoder->options.in_channels()) {
      throw std::invalid_argument("--encoder " + a->encoder + ": expects " + std::to_string(encoder->options.in_channels()) +
                                  " channel(s), the data has " + std::to_string(d.channels()));
    }
    auto features = eval::embed(encoder, d.x);
    data::write_npy(a->out, features);
    fs::path labels = fs::path(a->out).replace_extension(".labels.npy");
    data::write_npy(labels, d.y);
    std::cout << "wrote " << a->out << " [" << features.size(0) << ", " << features.size(1) << "] and " << labels.string()
              << " [" << d.y.size(0) << "]\n";
    return 0;
  };
}

Action add_probe_command(CLI::App& app) {
  struct Args {
    std::string encoder, data = "synthetic", probe = "logistic";
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "probe", "Frozen-feature probes: k-NN, logistic regression or an RBF SVM (the T-Loss protocol) on the representations");
  cmd->add_option("--encoder", a->encoder, "a pre-training run directory")->required();
  cmd->add_option("--data", a->data, "data spec or prepared directory")->capture_default_str();
  cmd->add_option("--probe", a->probe,
                  "knn | logistic (setting chosen on the validation split) | svm (RBF kernel, C chosen by stratified "
                  "5-fold cross-validation on train + validation, as T-Loss)")
      ->check(CLI::IsMember({"knn", "logistic", "svm"}))
      ->capture_default_str();
  return [a] {
    auto encoder = train::load_encoder(a->encoder);
    auto splits = data::load_splits(data::parse_data_spec(a->data));
    if (splits.train.channels() != encoder->options.in_channels()) {
      throw std::invalid_argument("--encoder " + a->encoder + ": channel count differs from the data's");
    }
    const auto report = eval::frozen_probe(encoder, splits, a->probe);
    std::cout << report.how << ":\n";
    print_metrics(report.test, splits.test.class_names);
    return 0;
  };
}

Action add_experiment_command(CLI::App& app) {
  struct Args {
    train::ExperimentConfig config;
    std::string methods = "supervised,simclr,viewmaker,leaves", sweep, preset, out, metrics;
    int64_t epochs = 0, finetune_epochs = 0, batch_size = 0, width = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("experiment", "Pre-train and fine-tune every method and seed; write the results table");
  cmd->add_option("--data", a->config.data, "data spec or prepared directory")->required();
  cmd->add_option("--methods", a->methods, "comma-separated: supervised, simclr, viewmaker, leaves")->capture_default_str();
  cmd->add_option("--seeds", a->config.seeds, "seeds per method (0..N-1)")->check(kPositive)->capture_default_str();
  cmd->add_option("--sweep-simclr", a->sweep, "SimCLR T(sigma) rows, e.g. 0.01,0.02,0.03,0.04,0.05 (Table 6)");
  // Applied the moment it is parsed, before the other options take their
  // values: a flag given on the command line always wins over the preset.
  cmd->add_option_function<std::string>(
         "--preset",
         [a](const std::string& name) {
           std::error_code ec;
           const auto exe = fs::read_symlink("/proc/self/exe", ec).parent_path();
           try {
             train::apply_preset(a->config, train::find_preset(name, exe));
           } catch (const std::invalid_argument& e) {
             throw CLI::ValidationError("--preset", e.what());
           }
           a->preset = name;
         },
         "configs/NAME.toml: apnea-ecg, sleep-edf, ptb-xl, pamap2, or a path (flags given on the command line win)")
      ->trigger_on_parse();
  cmd->add_option("--metrics", a->metrics, "table columns, comma-separated: " + eval::known_metrics());
  cmd->add_option("--epochs", a->epochs, "override: pre-training epochs")->check(kPositive);
  cmd->add_option("--finetune-epochs", a->finetune_epochs, "override: fine-tuning epochs")->check(kPositive);
  cmd->add_option("--batch-size", a->batch_size, "override: batch size (both stages)")->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--width", a->width, "override: encoder width (64: the paper's ResNet-18)")->check(CLI::Range(1, 4096));
  cmd->add_option("--min-steps", a->config.pretrain.min_steps, "pre-training: at least this many optimizer steps")
      ->check(kNonNegative)
      ->capture_default_str();
  cmd->add_option("--finetune-min-steps", a->config.finetune.min_steps, "fine-tuning: at least this many optimizer steps")
      ->check(kNonNegative)
      ->capture_default_str();
  cmd->add_option("--validation", a->config.finetune.validation,
                  "fine-tuning model selection: auto | split | none (see leaves finetune --help)")
      ->check(CLI::IsMember({"auto", "split", "none"}))
      ->capture_default_str();
  cmd->add_option("--svm", a->config.svm,
                  "also the SVM on frozen representations (T-Loss protocol) per pre-trained run: auto | on | off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  cmd->add_option("--positive", a->config.finetune.positive, "binary tasks: the positive class by name");
  cmd->add_option("--select", a->config.finetune.select, "validation metric for model selection")->capture_default_str();
  cmd->add_option("--patience", a->config.finetune.patience, "fine-tuning early stopping (0: off)")->check(kNonNegative);
  cmd->add_option("--bootstrap", a->config.finetune.bootstrap, "bootstrap resamples per test evaluation")
      ->check(kNonNegative)
      ->capture_default_str();
  cmd->add_option("--device", a->config.pretrain.device, "cpu | cuda | cuda:N")->capture_default_str();
  add_accelerator_options(cmd, a->config.pretrain);
  // The view generators' options (--knots, --eta, --sigma, ...), as pretrain has them; they win over a preset.
  add_schema_options(cmd, options::generator_schema(), a->config.pretrain.views);
  cmd->add_option("--out", a->out, "experiment directory (re-run with the same one to resume)")->required();
  return [a, cmd] {
    auto& c = a->config;
    c.finetune.device = c.pretrain.device;
    c.methods = split_list(a->methods);
    // Where the settings came from.
    std::string given;
    for (const auto* o : cmd->get_options())
      if (o->count() > 0 && o->get_name() != "--preset" && o->get_name() != "--out" && o->get_name() != "--data")
        given += (given.empty() ? "" : " ") + o->get_name();
    std::cout << "settings: " << (a->preset.empty() ? "defaults" : "preset " + c.preset) << "; from the command line: "
              << (given.empty() ? "nothing else" : given) << " (every resolved value: OUT/experiment.json)\n";
    if (!a->metrics.empty()) c.metrics = split_list(a->metrics);
    for (const auto& s : split_list(a->sweep)) {
      try {
        size_t used = 0;
        c.sweep_simclr.push_back(std::stod(s, &used));
        if (used != s.size()) throw std::invalid_argument(s);
      } catch (const std::exception&) {
        throw std::invalid_argument("--sweep-simclr: '" + s + "' is not a number");
      }
    }
    if (a->epochs) c.pretrain.epochs = a->epochs;
    if (a->finetune_epochs) c.finetune.epochs = a->finetune_epochs;
    if (a->batch_size) c.pretrain.batch_size = c.finetune.batch_size = a->batch_size;
    if (a->width) c.pretrain.width = c.finetune.width = a->width;
    c.finetune.device = c.pretrain.device;
    const auto t0 = std::chrono::steady_clock::now();
    auto summary = train::run_experiment(c, a->out, &std::cout);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "\n" << summary.table << "\n(test metrics, mean ± std over " << c.seeds << " seed(s); " << std::fixed
              << std::setprecision(0) << seconds << " s)\nwrote " << a->out << "/results.md, results.csv, results.json\n";
    return 0;
  };
}

Action add_benchmark_command(CLI::App& app) {
  struct Args {
    train::BenchmarkConfig config;
    std::string sets, methods = "supervised,simclr,leaves", out, root, published;
    int64_t epochs = 100, finetune_epochs = 30, batch_size = 64, width = 64;
  };
  auto a = std::make_shared<Args>();
  auto& e = a->config.experiment;
  auto* cmd = app.add_subcommand(
      "benchmark",
      "One protocol over several UCR/UEA sets: a table beside published figures and LEAVES against SimCLR, paired");
  cmd->add_option("--sets", a->sets, "comma-separated set folders under --root (UCR .tsv or UEA .ts/.arff)")->required();
  cmd->add_option("--root", a->root, "the folder holding the sets")->required();
  cmd->add_option("--published", a->published, "CSV of published accuracies: set,COLUMN,... (blank: none)");
  cmd->add_option("--data-options", a->config.data_options, "extra data-spec options for every set, e.g. normalize=zscore");
  cmd->add_option("--methods", a->methods, "comma-separated: supervised, simclr, viewmaker, leaves")->capture_default_str();
  cmd->add_option("--seeds", e.seeds, "seeds per method and set (0..N-1)")->check(kPositive)->capture_default_str();
  cmd->add_option("--epochs", a->epochs, "pre-training epochs")->check(kPositive)->capture_default_str();
  cmd->add_option("--min-steps", e.pretrain.min_steps, "pre-training: at least this many optimizer steps")
      ->check(kNonNegative)
      ->capture_default_str();
  cmd->add_option("--finetune-epochs", a->finetune_epochs, "fine-tuning epochs")->check(kPositive)->capture_default_str();
  cmd->add_option("--finetune-min-steps", e.finetune.min_steps, "fine-tuning: at least this many optimizer steps")
      ->check(kNonNegative)
      ->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size, "batch size, both stages (pre-training: at most the training split)")
      ->check(CLI::Range(2, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--width", a->width, "encoder width (64: the paper's ResNet-18)")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--validation", e.finetune.validation, "fine-tuning model selection: auto | split | none")
      ->check(CLI::IsMember({"auto", "split", "none"}))
      ->capture_default_str();
  cmd->add_option("--svm", e.svm, "the SVM on frozen representations per pre-trained run: auto | on | off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  cmd->add_option("--bootstrap", e.finetune.bootstrap, "bootstrap resamples per test evaluation")
      ->check(kNonNegative)
      ->capture_default_str();
  cmd->add_option("--device", e.pretrain.device, "cpu | cuda | cuda:N")->capture_default_str();
  // The view generators' options (--knots, --eta, --sigma, ...), as pretrain has them.
  add_schema_options(cmd, options::generator_schema(), e.pretrain.views);
  cmd->add_option("--out", a->out, "benchmark directory (re-run with the same one to resume or add sets)")->required();
  return [a] {
    auto& c = a->config;
    c.sets = split_list(a->sets);
    c.root = a->root;
    c.published = a->published;
    c.experiment.methods = split_list(a->methods);
    c.experiment.pretrain.epochs = a->epochs;
    c.experiment.finetune.epochs = a->finetune_epochs;
    c.experiment.pretrain.batch_size = c.experiment.finetune.batch_size = a->batch_size;
    c.experiment.pretrain.width = c.experiment.finetune.width = a->width;
    c.experiment.finetune.device = c.experiment.pretrain.device;
    const auto t0 = std::chrono::steady_clock::now();
    train::run_benchmark(c, a->out, &std::cout);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "(" << std::fixed << std::setprecision(0) << seconds << " s) wrote " << a->out
              << "/benchmark.md, benchmark.csv, benchmark.json\n";
    return 0;
  };
}

}  // namespace leaves::cli
