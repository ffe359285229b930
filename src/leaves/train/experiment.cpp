#include "leaves/train/experiment.h"
#include "leaves/option_error.h"

#include <toml++/toml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <set>
#include <sstream>

#include "leaves/data/spec.h"
#include "leaves/eval/linear_probe.h"
#include "leaves/eval/svm_probe.h"
#include "leaves/io/output.h"
#include "leaves/train/options.h"
#include "leaves/train/results.h"

namespace leaves::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string ExperimentConfig::data_spec() const {
  if (preset_data_options.empty() || data.empty()) return data;
  const auto spec = data::parse_data_spec(data);
  if (spec.kind != preset_data_kind) return data;
  std::string out = data;
  std::stringstream in(preset_data_options);
  for (std::string item; std::getline(in, item, ',');) {
    const auto key = item.substr(0, item.find('='));
    if (!spec.options.count(key)) out += (out.find(':') == std::string::npos ? ":" : ",") + item;
  }
  return out;
}

void ExperimentConfig::validate() const {
  if (data.empty()) throw OptionError("data", ": give the data set");
  if (methods.empty() && sweep_simclr.empty()) throw OptionError("methods", ": give at least one method");
  for (const auto& m : methods) {
    if (m != "supervised") generator_kind(m);  // throws for an unknown method
  }
  if (seeds < 1) throw OptionError("seeds", " must be >= 1");
  for (double s : sweep_simclr)
    if (!(s > 0) || !std::isfinite(s)) throw OptionError("sweep_simclr", ": every sigma must be > 0");
  for (const auto& m : metrics) eval::Metrics().get(m);
  if (svm != "auto" && svm != "on" && svm != "off") throw OptionError("svm", " must be auto, on or off, got '" + svm + "'");
  auto p = pretrain;
  p.data = data;
  p.validate();
  auto f = finetune;
  f.data = data;
  f.encoder.clear();
  f.linear = false;
  f.validate();
}

void apply_preset(ExperimentConfig& c, const fs::path& file) {
  toml::table t;
  try {
    t = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream s;
    s << file.string() << ":" << e.source().begin.line << ": " << e.description();
    throw std::invalid_argument(s.str());
  }
  auto fail = [&](const std::string& what) { throw std::invalid_argument(file.string() + ": " + what); };
  auto text = [&](const toml::node& n, const std::string& key) {
    if (auto v = n.value<std::string>()) return *v;
    fail(key + " must be a string");
    return std::string();
  };
  // A TOML value as the schema's JSON value (its type is checked by the schema).
  auto value = [&](const toml::node& n, const std::string& key) -> json {
    if (n.is_integer()) return *n.value<int64_t>();
    if (n.is_floating_point()) return *n.value<double>();
    if (n.is_boolean()) return *n.value<bool>();
    if (n.is_string()) return *n.value<std::string>();
    fail(key + " must be a number, a string or true/false");
    return json();
  };
  // Sets one option of a schema, or fails naming the file and the key.
  auto set = [&](const auto& schema, auto& config, const std::string& name, const toml::node& n, const std::string& key) {
    const auto* o = schema.find(name);
    if (!o || !o->spec.cli) fail("unknown setting '" + key + "'");
    try {
      const auto v = value(n, key);
      o->set(config, v);
      options::check_value(o->spec, v);
    } catch (const OptionError& e) {
      fail(key + e.rest());
    }
  };
  for (auto&& [section, node] : t) {
    const std::string name(section.str());
    auto* table = node.as_table();
    if (!table) fail("'" + name + "' must be a table ([" + name + "])");
    for (auto&& [k, v] : *table) {
      const std::string option(k.str());
      const std::string key = name + "." + option;
      if (name == "pretrain") {
        set(options::pretrain_schema(), c.pretrain, option, v, key);
        if (option == "width") c.finetune.width = c.pretrain.width;  // the supervised baseline's encoder too
      } else if (name == "finetune") {
        set(options::finetune_schema(), c.finetune, option, v, key);
      } else if (key == "table.metrics") {
        auto* arr = v.as_array();
        if (!arr) fail(key + " must be an array of metric names");
        c.metrics.clear();
        for (auto&& m : *arr) c.metrics.push_back(text(m, key));
      } else if (name == "paper") {
        if (const auto* table = v.as_table()) {
          for (auto&& [ck, cv] : *table) c.paper[option][std::string(ck.str())] = value(cv, key + "." + std::string(ck.str()));
        } else {
          c.paper[option] = value(v, key);
        }
      } else if (key == "data.kind") {
        c.preset_data_kind = text(v, key);
      } else if (key == "data.options") {
        c.preset_data_options = text(v, key);
      } else if (key == "table.data" || key == "table.title") {
        // informational
      } else {
        fail("unknown setting '" + key + "'");
      }
    }
  }
  c.preset = file.stem().string();
}

fs::path find_preset(const std::string& name, const fs::path& executable_dir) {
  std::vector<fs::path> tried{fs::path(name), fs::path("configs") / (name + ".toml"),
                              executable_dir / ".." / "configs" / (name + ".toml")};
  for (const auto& p : tried)
    if (fs::is_regular_file(p)) return p;
  std::string where;
  for (const auto& p : tried) where += (where.empty() ? "" : ", ") + p.string();
  throw OptionError("preset", " '" + name + "': not found (looked at " + where + ")");
}

namespace {

std::string quote(const std::string& s) {
  if (s.find_first_of(" \t'\"$\\;&|()<>*?") == std::string::npos && !s.empty()) return s;
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

namespace {

std::string command_line(std::string command, const std::vector<std::string>& args, const fs::path& out) {
  for (const auto& a : args) command += " " + quote(a);
  return command + " --out " + quote(out.string());
}

}  // namespace

// Every option that differs from the command's default, from the schema: the
// command gives the same run.
std::string pretrain_command(const PretrainConfig& c, const fs::path& out) {
  return command_line("leaves pretrain", options::pretrain_schema().arguments(c, PretrainConfig()), out);
}

std::string finetune_command(const FinetuneConfig& c, const fs::path& out) {
  auto f = c;
  const FinetuneConfig defaults;
  if (c.encoder.empty()) {
    f.linear = defaults.linear;  // neither is an option of `leaves supervised`
    return command_line("leaves supervised", options::finetune_schema().arguments(f, defaults), out);
  }
  f.width = defaults.width;  // the encoder's own width counts (not an option of `leaves finetune`)
  return command_line("leaves finetune", options::finetune_schema().arguments(f, defaults), out);
}

namespace {



std::string method_title(const std::string& m) {
  if (m == "supervised") return "Supervised (ResNet-18 1D)";
  if (m == "simclr") return "SimCLR (random T(sigma))";
  if (m == "viewmaker") return "ViewMaker";
  if (m == "leaves") return "LEAVES";
  return m;
}

json settings_of(const ExperimentConfig& c) {
  auto p = c.pretrain.to_json();
  auto f = c.finetune.to_json();
  for (auto* j : {&p, &f}) {
    j->erase("data");
    j->erase("seed");
  }
  p.erase("method");
  f.erase("encoder");
  return {{"data", c.data}, {"pretrain", p}, {"finetune", f}, {"metrics", c.metrics}};
}

// The SVM protocol on a pre-training run's encoder (cached in FILE: a re-run
// of the experiment reads it back).
json svm_result(const fs::path& encoder_dir, const data::Splits& splits, uint64_t seed, const fs::path& file) {
  if (fs::exists(file)) {
    std::ifstream f(file);
    auto j = json::parse(f, nullptr, false);
    if (!j.is_discarded() && j.contains("accuracy")) return j;
  }
  auto encoder = load_encoder(encoder_dir);
  const auto features = torch::cat({eval::embed(encoder, splits.train.x), eval::embed(encoder, splits.val.x)});
  const auto labels = torch::cat({splits.train.y, splits.val.y});
  eval::SvmProbeOptions options;
  options.seed = seed;
  const auto svm = eval::fit_svm_probe(features, labels, options);
  const int64_t K = static_cast<int64_t>(splits.train.class_names.size());
  const auto probs = torch::one_hot(svm.predict(eval::embed(encoder, splits.test.x)), K).to(torch::kDouble);
  const auto m = eval::single_label_metrics(splits.test.y, probs);
  json j{{"accuracy", m.accuracy}, {"macro_f1", m.macro_f1}, {"c", svm.c}, {"gamma", svm.gamma},
         {"cv_accuracy", svm.cv_accuracy < 0 ? json(nullptr) : json(svm.cv_accuracy)},
         {"train_series", features.size(0)}, {"test_series", splits.test.size()}};
  io::write_file(file, j.dump(2) + "\n");
  return j;
}


}  // namespace


namespace {

// ---------------------------------------------------------------------------
// Set-up

/// The data, checked against the settings before any run: a setting that
/// cannot fit fails now, not after the runs before it (hours on a real data set).
data::Splits load_checked_data(const ExperimentConfig& config) {
  auto splits = data::load_splits(data::parse_data_spec(config.data));
  for (const auto* d : {&splits.train, &splits.val, &splits.test}) {
    // An empty validation split is a protocol (apnea-ecg:DIR,val_records=0 --validation none: the paper's).
    if (d == &splits.val && config.finetune.validation != "split") continue;
    if (d->size() == 0) throw OptionError("data", " '" + config.data + "': the " + d->name + " split is empty");
  }
  const bool pretrains = !config.sweep_simclr.empty() ||
                         std::any_of(config.methods.begin(), config.methods.end(),
                                     [](const std::string& m) { return m != "supervised"; });
  if (pretrains && splits.train.size() < config.pretrain.batch_size) {
    throw std::invalid_argument("pre-training batch size " + std::to_string(config.pretrain.batch_size) +
                                " (--batch-size, or the preset's pretrain.batch_size) is larger than the training "
                                "split (" + std::to_string(splits.train.size()) + " samples) of --data '" +
                                config.data + "'");
  }
  return splits;
}

/// experiment.json: written first; a folder holding an experiment with other settings is refused.
void record_experiment(const ExperimentConfig& config, const fs::path& out) {
  const auto settings = settings_of(config);
  if (fs::exists(out / "experiment.json")) {
    std::ifstream f(out / "experiment.json");
    auto recorded = json::parse(f, nullptr, false);
    if (recorded.is_discarded() || recorded.value("settings", json()) != settings) {
      throw std::invalid_argument(out.string() + ": holds an experiment with other settings (see its experiment.json); "
                                  "use another --out");
    }
  }
  json record{{"settings", settings},
              {"methods", config.methods},
              {"seeds", config.seeds},
              {"sweep_simclr", config.sweep_simclr},
              {"preset", config.preset}};
  io::write_file(out / "experiment.json", record.dump(2) + "\n");
}

/// The table's metrics when none were given: by the task, from the first finished run.
std::vector<std::string> table_metrics(const fs::path& ft_dir, const json& result, const FinetuneConfig& f) {
  std::ifstream cf(ft_dir / "config.json");
  const auto cj = json::parse(cf, nullptr, false);
  const bool multi = !cj.is_discarded() && cj.contains("resolved") && cj["resolved"].value("multi_label", false);
  if (multi) return {"auc", "accuracy"};
  if (result["class_names"].size() == 2) {
    return f.positive.empty() ? std::vector<std::string>{"accuracy", "macro_f1", "auc"}
                              : std::vector<std::string>{"sensitivity", "specificity", "accuracy", "macro_f1"};
  }
  return {"accuracy", "macro_f1"};
}

// ---------------------------------------------------------------------------
// The loop: one (row, seed).

/// Pre-trains (or resumes) and fine-tunes one run as needed; returns its record.
json run_one(const ExperimentConfig& config, const ResultRow& row, int64_t seed, const fs::path& out,
             const data::Splits& splits, bool svm, std::ostream* progress, std::vector<std::string>& commands,
             std::vector<std::string>& metric_names) {
  const fs::path run = out / "runs" / row.dir / ("seed-" + std::to_string(seed));
  const fs::path pre_dir = run / "pretrain", ft_dir = run / "finetune";
  FinetuneConfig f = config.finetune;
  f.data = config.data;
  f.seed = static_cast<uint64_t>(seed);
  f.encoder.clear();
  PretrainConfig p = config.pretrain;
  if (row.method != "supervised") {
    p.data = config.data;
    p.method = row.method;
    p.seed = static_cast<uint64_t>(seed);
    p.views.sigma = row.sigma;
    f.encoder = pre_dir.string();
    commands.push_back(pretrain_command(p, pre_dir));
  }
  commands.push_back(finetune_command(f, ft_dir));
  double pretrain_seconds = 0;
  if (!fs::exists(ft_dir / "metrics.json")) {
    if (row.method != "supervised" && !fs::exists(pre_dir / "encoder.pt")) {
      const auto t0 = std::chrono::steady_clock::now();
      if (progress) *progress << "== " << row.label << ", seed " << seed << ": pre-training\n";
      if (fs::exists(pre_dir / "config.json")) {
        resume_pretraining(pre_dir, 0, progress);
      } else {
        fs::remove_all(pre_dir);
        pretrain(p, pre_dir, progress);
      }
      pretrain_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    if (progress) *progress << "== " << row.label << ", seed " << seed << ": fine-tuning\n";
    fs::remove_all(ft_dir);  // an interrupted fine-tuning run starts again
    finetune(f, ft_dir, progress);
  } else if (progress) {
    *progress << "== " << row.label << ", seed " << seed << ": finished earlier, skipped\n";
  }
  auto result = read_finetune_result(ft_dir);
  if (metric_names.empty()) metric_names = table_metrics(ft_dir, result, f);
  json r{{"method", row.method},
         {"label", row.label},
         {"seed", seed},
         {"pretrain_dir", row.method == "supervised" ? json(nullptr) : json(fs::relative(pre_dir, out).string())},
         {"finetune_dir", fs::relative(ft_dir, out).string()},
         {"select", result["select"]},
         {"best_epoch", result["best_epoch"]},
         {"val", result["val"]},
         {"test", result["test"]},
         {"finetune_seconds", result["seconds"]}};
  if (pretrain_seconds > 0) r["pretrain_seconds"] = pretrain_seconds;
  {
    std::ifstream cf(ft_dir / "config.json");
    const auto cj = json::parse(cf, nullptr, false);
    r["validation"] = !cj.is_discarded() && cj.contains("resolved") ? cj["resolved"].value("validation", "split") : "split";
  }
  {
    std::ifstream pf(pre_dir / "log.jsonl");
    // How hard the views were at the end of pre-training (positive-pair cosine similarity).
    std::string line, lastline;
    while (std::getline(pf, line))
      if (!line.empty()) lastline = line;
    const auto last = json::parse(lastline, nullptr, false);
    if (!last.is_discarded() && last.contains("positive_similarity")) r["positive_similarity"] = last["positive_similarity"];
  }
  if (svm && row.method != "supervised") {
    if (progress) *progress << "== " << row.label << ", seed " << seed << ": SVM on the frozen representations\n";
    r["svm"] = svm_result(pre_dir, splits, static_cast<uint64_t>(seed), run / "svm.json");
  }
  if (row.method != "supervised") r["sigma"] = row.sigma;
  return r;
}

}  // namespace

ExperimentSummary run_experiment(const ExperimentConfig& given, const fs::path& out, std::ostream* progress) {
  auto config = given;
  config.data = given.data_spec();  // with the preset's data options (Sleep-EDF: the paper's cohort)
  config.validate();
  if (progress && config.data != given.data) *progress << "data: " << config.data << " (the preset's data options)\n";
  const auto splits = load_checked_data(config);
  const bool svm = !splits.train.targets.defined() &&
                   (config.svm == "on" ||
                    (config.svm == "auto" && splits.train.size() + splits.val.size() <= kSvmMaxSeries));
  io::require_new_or_own(out, "--out", "experiment.json", "a leaves experiment");
  io::DirLock lock(out, "experiment directory");  // one experiment at a time writes here
  record_experiment(config, out);

  std::vector<ResultRow> rows;
  for (const auto& m : config.methods) rows.push_back({method_title(m), m, config.pretrain.views.sigma, m});
  for (double s : config.sweep_simclr) rows.push_back({"SimCLR T(" + num(s) + ")", "simclr", s, "simclr-sigma-" + num(s)});
  json runs = json::array();
  std::vector<std::string> commands;
  std::vector<std::string> metric_names = config.metrics;
  for (const auto& row : rows)
    for (int64_t seed = 0; seed < config.seeds; ++seed)
      runs.push_back(run_one(config, row, seed, out, splits, svm, progress, commands, metric_names));

  const auto tables = summarise(rows, runs, metric_names, svm);
  json results;
  write_experiment_results(out, {config.data, config.preset, config.seeds, config.sweep_simclr}, runs, metric_names, svm,
                           tables, commands, &results);
  return {results, tables.table};
}

}  // namespace leaves::train
