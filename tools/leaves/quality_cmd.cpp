// `leaves quality`: the ECG quality check (Zhao & Zhang 2018) of original
// signals and of views from trained or untrained generators, as a table laid
// out like the paper's Table 5, plus CSV and JSON.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "leaves/data/spec.h"
#include "leaves/quality/ecg_quality.h"
#include "leaves/train/pretrain.h"
#include "leaves/io/output.h"
#include "leaves/views/factory.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

namespace fs = std::filesystem;

namespace {

struct QualityArgs {
  // 10-s signals at 100 Hz: the built-in set's default 5 s is too short for basSQI (see below).
  std::string data = "synthetic:length=1000", split = "test", channel, out, approach = "simple", formula = "old";
  std::vector<std::string> generators, methods;
  int64_t views = 1, limit = 0;
  double rate = 0;
  uint64_t seed = 0;
  bool raw = false;
};

std::string percent(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << v << "%";
  return s.str();
}

int run_quality(const QualityArgs& a) {
  torch::manual_seed(a.seed);
  auto splits = data::load_splits(data::parse_data_spec(a.data));
  const auto& d = a.split == "train" ? splits.train : a.split == "val" ? splits.val : splits.test;
  const double rate = a.rate > 0 ? a.rate : d.rate;
  if (!(rate > 0)) throw std::invalid_argument("--data '" + a.data + "': the sampling rate is not known; give --rate HZ");
  int64_t channel = 0;
  if (!a.channel.empty()) {
    auto it = std::find(d.channel_names.begin(), d.channel_names.end(), a.channel);
    if (it != d.channel_names.end()) {
      channel = it - d.channel_names.begin();
    } else {
      try {
        size_t used = 0;
        channel = std::stoll(a.channel, &used);
        if (used != a.channel.size()) throw std::invalid_argument(a.channel);
      } catch (const std::exception&) {
        throw std::invalid_argument("--channel '" + a.channel + "': not a channel name or index of the data");
      }
    }
    if (channel < 0 || channel >= d.channels()) throw std::invalid_argument("--channel " + a.channel + ": out of range");
  }
  auto x = d.x;
  if (a.limit > 0 && a.limit < x.size(0)) x = x.slice(0, 0, a.limit);
  quality::EcgQualityOptions options;
  options.formula = a.formula == "new" ? quality::BasSqiFormula::New : quality::BasSqiFormula::Old;
  options.clean = !a.raw;
  const bool fuzzy = a.approach == "fuzzy";

  struct Row {
    std::string name;
    torch::Tensor signals;  // [M, L]
  };
  std::vector<Row> rows{{"Original data", x.select(1, channel)}};
  auto add_views = [&](const std::string& name, views::ViewGenerator& g) {
    torch::NoGradGuard no_grad;
    g.eval();
    std::vector<torch::Tensor> out;
    for (int64_t v = 0; v < a.views; ++v) out.push_back(g.forward(x).select(1, channel));
    rows.push_back({name, torch::cat(out)});
  };
  for (const auto& run : a.generators) {
    train::PretrainConfig config;
    auto g = train::load_generator(run, &config);
    add_views(config.method == "leaves" ? "LEAVES (" + run + ")" : config.method == "viewmaker" ? "ViewMaker (" + run + ")"
                                                                                                : "SimCLR T(sigma) (" + run + ")",
              *g);
  }
  for (const auto& m : a.methods) {
    views::GeneratorConfig gc;
    gc.kind = train::generator_kind(m);
    gc.channels = x.size(1);
    auto g = views::make_generator(gc);
    add_views(std::string(m == "leaves" ? "LEAVES" : m == "viewmaker" ? "ViewMaker" : "SimCLR T(0.05)") + ", untrained", *g);
  }

  nlohmann::json summary = nlohmann::json::array();
  std::ostringstream csv;
  csv << "source,index,ksqi,psqi,bassqi,peaks,hr_max,simple,fuzzy,fuzzy_score,error\n" << std::setprecision(10);
  std::cout << "ECG quality (Zhao & Zhang 2018, " << a.approach << " decision, basSQI " << a.formula << " formula"
            << (a.raw ? ", not cleaned" : ", cleaned first") << ") of " << a.split << " signals, channel " << channel
            << ", at " << rate << " Hz:\n\n"
            << "| | Excellent | Barely acceptable | Unacceptable | not assessable |\n|---|---|---|---|---|\n";
  int64_t no_bassqi = 0, assessed = 0;
  for (const auto& row : rows) {
    const auto t = quality::tally_quality(row.signals, rate, options);
    for (size_t i = 0; i < t.results.size(); ++i) {
      if (!t.errors[i].empty()) continue;
      ++assessed;
      no_bassqi += std::isnan(t.results[i].bassqi);
    }
    const auto p = t.percent(fuzzy);
    std::cout << "| " << row.name << " | " << percent(p[0]) << " | " << percent(p[1]) << " | " << percent(p[2]) << " | "
              << t.failed << " |\n";
    summary.push_back({{"source", row.name},
                       {"signals", row.signals.size(0)},
                       {"failed", t.failed},
                       {"simple", {{"Excellent", t.simple[0]}, {"Barely acceptable", t.simple[1]}, {"Unacceptable", t.simple[2]}}},
                       {"fuzzy", {{"Excellent", t.fuzzy[0]}, {"Barely acceptable", t.fuzzy[1]}, {"Unacceptable", t.fuzzy[2]}}},
                       {"percent", {{"Excellent", p[0]}, {"Barely acceptable", p[1]}, {"Unacceptable", p[2]}}}});
    for (size_t i = 0; i < t.results.size(); ++i) {
      const auto& q = t.results[i];
      csv << '"' << row.name << "\"," << i << ",";
      if (t.errors[i].empty()) {
        csv << q.ksqi << "," << q.psqi << "," << q.bassqi << "," << q.peaks << "," << q.hr_max << ","
            << quality::quality_name(q.simple) << "," << quality::quality_name(q.fuzzy) << "," << q.fuzzy_score << ",";
      } else {
        csv << ",,,,,,,,\"" << t.errors[i] << "\"";
      }
      csv << "\n";
    }
  }
  if (no_bassqi > 0) {
    // Zhao & Zhang's basSQI needs two Welch bins in [4 fs / N, 1) Hz: about 6 s
    // of signal. Without it the decision is Unacceptable, whatever the signal.
    const double seconds = static_cast<double>(x.size(2)) / rate;
    std::ostringstream length;  // not through std::cout's own precision, which the lines after it keep
    length << std::setprecision(3) << seconds;
    std::cout << "\nnote: basSQI is undefined for " << no_bassqi << " of " << assessed << " signals (" << length.str()
              << " s each; it needs about 6 s), so they count as Unacceptable";
    if (seconds < 6.5) std::cout << ": use longer windows (the paper's are 10 s or more)";
    std::cout << "\n";
  }
  if (!a.out.empty()) {
    fs::create_directories(a.out);
    io::write_file(fs::path(a.out) / "quality.csv", csv.str());
    nlohmann::json j{{"data", a.data},      {"split", a.split},     {"channel", channel}, {"rate", rate},
                     {"approach", a.approach}, {"formula", a.formula}, {"cleaned", !a.raw}, {"views_per_signal", a.views},
                     {"rows", summary}};
    io::write_file(fs::path(a.out) / "quality.json", j.dump(2) + "\n");
    std::cout << "\nwrote " << (fs::path(a.out) / "quality.csv").string() << " (one line per signal) and quality.json\n";
  }
  return 0;
}

}  // namespace

Action add_quality_command(CLI::App& app) {
  auto a = std::make_shared<QualityArgs>();
  auto* cmd = app.add_subcommand("quality", "ECG quality (Zhao & Zhang 2018) of signals and of generated views (Table 5)");
  cmd->add_option("--data", a->data, "data spec or prepared directory")->capture_default_str();
  cmd->add_option("--split", a->split, "train | val | test")->check(CLI::IsMember({"train", "val", "test"}))->capture_default_str();
  cmd->add_option("--channel", a->channel, "channel name or index (default: the first)");
  cmd->add_option("--generator", a->generators, "a pre-training run whose trained generator makes views (repeatable)");
  cmd->add_option("--method", a->methods, "an untrained generator: leaves | viewmaker | simclr (repeatable)")
      ->check(CLI::IsMember({"leaves", "viewmaker", "simclr"}));
  cmd->add_option("--views", a->views, "views per signal and generator")->check(kPositive)->capture_default_str();
  cmd->add_option("--limit", a->limit, "only the first N signals (0: all)")->check(kNonNegative)->capture_default_str();
  cmd->add_option("--approach", a->approach, "simple | fuzzy")->check(CLI::IsMember({"simple", "fuzzy"}))->capture_default_str();
  cmd->add_option("--formula", a->formula, "basSQI: old (NeuroKit <= 0.2.4, as LEAVES) | new")
      ->check(CLI::IsMember({"old", "new"}))
      ->capture_default_str();
  cmd->add_flag("--raw", a->raw, "skip ecg_clean (the signals are already clean)");
  cmd->add_option("--rate", a->rate, "sampling rate in Hz when the data does not give it");
  cmd->add_option("--seed", a->seed, "random seed of the views")->check(kNonNegative)->capture_default_str();
  cmd->add_option("--out", a->out, "write quality.csv and quality.json here");
  return [a] { return run_quality(*a); };
}

}  // namespace leaves::cli
