#include "leaves/train/benchmark.h"
#include "leaves/option_error.h"

#include <libfccp/csv.h>  // fast-cpp-csv-parser: its line reader

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "leaves/data/spec.h"
#include "leaves/io/output.h"

namespace leaves::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::vector<std::string> split_cells(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in(line);
  for (std::string cell; std::getline(in, cell, ',');) out.push_back(data::trim(cell));
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

std::string signed_fixed(double v) { return (v >= 0 ? "+" : "") + format_fixed(v); }

std::string p_text(double p) {
  std::ostringstream s;
  s << std::setprecision(2) << p;
  return s.str();
}

}  // namespace

PublishedTable read_published(const fs::path& file) {
  if (!fs::is_regular_file(file)) throw OptionError("published", " " + file.string() + ": not found");
  PublishedTable t;
  try {
    ::io::LineReader in(file.string());
    int64_t line_no = 0;
    while (char* raw = in.next_line()) {
      ++line_no;
      std::string line(raw);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (data::trim(line).empty() || line[0] == '#') continue;
      auto cells = split_cells(line);
      const auto where = file.string() + ":" + std::to_string(line_no) + ": ";
      if (t.columns.empty()) {
        if (cells.size() < 2 || cells[0] != "set") {
          throw std::invalid_argument(where + "expected a header 'set,COLUMN,...' (e.g. set,T-Loss,DTW,ResNet)");
        }
        t.columns.assign(cells.begin() + 1, cells.end());
        continue;
      }
      if (cells.size() != t.columns.size() + 1) {
        throw std::invalid_argument(where + "has " + std::to_string(cells.size()) + " cells, the header " +
                                    std::to_string(t.columns.size() + 1));
      }
      if (cells[0].empty()) throw std::invalid_argument(where + "the set name is empty");
      auto& row = t.values[cells[0]];
      for (size_t i = 1; i < cells.size(); ++i) {
        if (cells[i].empty() || cells[i] == "-") continue;
        char* end = nullptr;
        const double v = std::strtod(cells[i].c_str(), &end);
        if (end != cells[i].c_str() + cells[i].size() || !(v >= 0 && v <= 1)) {
          throw std::invalid_argument(where + t.columns[i - 1] + " '" + cells[i] +
                                      "' is not an accuracy in [0, 1] (leave it blank or '-' when none is published)");
        }
        row[t.columns[i - 1]] = v;
      }
    }
  } catch (const ::io::error::base& e) {
    throw OptionError("published", " " + file.string() + ": " + e.what());
  }
  if (t.columns.empty()) throw OptionError("published", " " + file.string() + ": no header row");
  return t;
}

std::string set_spec(const fs::path& dir) {
  auto name = dir.lexically_normal();
  if (name.filename().empty()) name = name.parent_path();
  const std::string stem = name.filename().string();
  if (!fs::is_directory(dir)) throw OptionError("sets", ": " + dir.string() + " is not a folder");
  if (fs::exists(dir / (stem + "_TRAIN.tsv"))) return "ucr:" + dir.string();
  if (fs::exists(dir / (stem + "_TRAIN.ts")) || fs::exists(dir / (stem + "_TRAIN.arff")) ||
      fs::exists(dir / (stem + "Dimension1_TRAIN.arff"))) {
    return "uea:" + dir.string();
  }
  throw OptionError("sets", ": " + dir.string() + " holds none of " + stem + "_TRAIN.tsv (UCR), " + stem +
                              "_TRAIN.ts, " + stem + "_TRAIN.arff or " + stem + "Dimension1_TRAIN.arff (UEA)");
}

double wilcoxon_signed_rank_p(const std::vector<double>& differences) {
  std::vector<double> d;
  for (double x : differences)
    if (std::fabs(x) > 1e-12) d.push_back(x);
  const size_t n = d.size();
  if (n == 0) return 1.0;
  // Mean ranks of |d|, doubled so that ties' half ranks are integers.
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return std::fabs(d[a]) < std::fabs(d[b]); });
  std::vector<int64_t> rank2(n);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && std::fabs(std::fabs(d[order[j + 1]]) - std::fabs(d[order[i]])) <= 1e-12) ++j;
    for (size_t k = i; k <= j; ++k) rank2[order[k]] = static_cast<int64_t>(i + j + 2);  // 2 * mean of ranks i+1..j+1
    i = j + 1;
  }
  int64_t total = 0, positive = 0;
  for (size_t i = 0; i < n; ++i) {
    total += rank2[i];
    if (d[i] > 0) positive += rank2[i];
  }
  // counts[s]: sign assignments whose positive (doubled) rank sum is s.
  std::vector<double> counts(static_cast<size_t>(total) + 1, 0.0);
  counts[0] = 1;
  for (size_t i = 0; i < n; ++i)
    for (int64_t s = total; s >= rank2[i]; --s) counts[s] += counts[s - rank2[i]];
  const double all = std::pow(2.0, static_cast<double>(n));
  const int64_t low = std::min(positive, total - positive);
  double tail = 0;
  for (int64_t s = 0; s <= low; ++s) tail += counts[s];
  return std::min(1.0, 2 * tail / all);
}

PairedComparison compare_paired(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("compare_paired: unequal lengths");
  PairedComparison c;
  std::vector<double> diff;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) continue;
    const double d = a[i] - b[i];
    diff.push_back(d);
    ++c.n;
    if (std::fabs(d) <= 1e-9) {
      ++c.ties;
    } else if (d > 0) {
      ++c.wins;
    } else {
      ++c.losses;
    }
    c.mean_difference += d;
  }
  if (c.n > 0) c.mean_difference /= static_cast<double>(c.n);
  c.p_value = wilcoxon_signed_rank_p(diff);
  return c;
}

json PairedComparison::to_json() const {
  return {{"n", n}, {"wins", wins}, {"ties", ties}, {"losses", losses}, {"mean_difference", mean_difference},
          {"wilcoxon_p", p_value}};
}

namespace {

// Per-seed values of a summary row: test `metric` (fine-tuned) or the SVM's accuracy.
std::vector<double> seed_values(const json& results, const std::string& method, const std::string& column) {
  std::vector<double> v;
  for (const auto& r : results["runs"]) {
    // The method's own row (runs/METHOD/seed-S/...), not a SimCLR T(sigma) sweep row.
    if (r["finetune_dir"].get<std::string>().rfind("runs/" + method + "/", 0) != 0) continue;
    const json* m = column == "svm" ? (r.contains("svm") ? &r["svm"] : nullptr) : &r["test"];
    const std::string key = column == "svm" ? "accuracy" : column;
    v.push_back(m && m->contains(key) && (*m)[key].is_number() ? (*m)[key].get<double>() : std::nan(""));
  }
  return v;
}

std::string method_name(const std::string& m) {
  if (m == "supervised") return "Supervised";
  if (m == "simclr") return "SimCLR";
  if (m == "viewmaker") return "ViewMaker";
  if (m == "leaves") return "LEAVES";
  return m;
}

}  // namespace

namespace {

using SetList = std::vector<std::pair<std::string, std::string>>;  // name, data spec
using Column = std::pair<std::string, std::string>;                  // method, "accuracy" | "svm"
using SeedValues = std::map<std::string, std::map<std::string, std::vector<double>>>;  // column -> set -> per seed

std::string column_title(const Column& c) { return method_name(c.first) + (c.second == "svm" ? " SVM" : ""); }

// ---------------------------------------------------------------------------
// Set-up and the loop

/// Every set's spec, before any run: a wrong name fails before hours of runs.
SetList resolve_sets(const BenchmarkConfig& config) {
  SetList sets;
  for (const auto& s : config.sets) {
    auto spec = set_spec(config.root / s);
    if (!config.data_options.empty()) spec += "," + config.data_options;
    auto name = fs::path(s).lexically_normal();
    if (name.filename().empty()) name = name.parent_path();
    sets.emplace_back(name.filename().string(), spec);
  }
  for (size_t i = 0; i < sets.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (sets[i].first == sets[j].first) throw OptionError("sets", ": " + sets[i].first + " is given twice");
  return sets;
}

/// One set's experiment (resumable) and its row of the table.
json run_set(const BenchmarkConfig& config, const std::string& name, const std::string& spec, const fs::path& out,
             const std::vector<Column>& columns, const PublishedTable& published, SeedValues& seeds,
             std::ostream* progress) {
  ExperimentConfig e = config.experiment;
  e.data = spec;
  const auto splits = data::load_splits(data::parse_data_spec(spec));
  const int64_t train = splits.train.size();
  if (e.pretrain.batch_size > train) {
    if (progress) {
      *progress << "# " << name << ": pre-training batch " << train << " (the training split) instead of "
                << e.pretrain.batch_size << "\n";
    }
    e.pretrain.batch_size = train;
  }
  if (progress) *progress << "# " << name << " (" << spec << ")\n";
  auto summary = run_experiment(e, out / "sets" / name, progress);
  json row{{"set", name},
           {"data", spec},
           {"train_series", splits.train.size() + splits.val.size()},
           {"test_series", splits.test.size()},
           {"classes", splits.train.class_names.size()},
           {"length", splits.train.length()},
           {"channels", splits.train.channels()},
           {"pretrain_batch", e.pretrain.batch_size}};
  for (const auto& c : columns) {
    const auto v = seed_values(summary.results, c.first, c.second);
    seeds[column_title(c)][name] = v;
    const auto [mean, sd] = mean_and_sd(v);
    row["ours"][column_title(c)] = {{"mean", std::isnan(mean) ? json(nullptr) : json(mean)},
                                    {"std", std::isnan(sd) ? json(nullptr) : json(sd)},
                                    {"values", v}};
  }
  if (published.values.count(name)) row["published"] = published.values.at(name);
  return row;
}

// ---------------------------------------------------------------------------
// Writers: benchmark.md (its three sections) and benchmark.csv

/// The results table (Markdown) and its CSV.
std::string table_section(const BenchmarkConfig& config, const std::vector<Column>& columns, const json& per_set,
                          const PublishedTable& published, std::ostringstream& csv) {
  std::ostringstream md;
  md << "# leaves benchmark\n\nTest accuracy, mean ± sample standard deviation over " << config.experiment.seeds
     << " seed(s). Fine-tuned columns: the pre-trained (or, supervised, randomly initialised) encoder and a "
        "linear head trained end to end, selected as each set's `results.md` says. SVM columns: an RBF SVM on the "
        "frozen pre-trained representations, C by cross-validation on the training split (the T-Loss protocol)."
     << (config.published.empty() ? "" : " Published columns: `" + config.published.filename().string() + "`.")
     << "\n\n| Set | Train | Test |";
  csv << "set,train,test";
  for (const auto& c : columns) {
    md << " " << column_title(c) << " |";
    csv << "," << column_title(c) << "," << column_title(c) << " std";
  }
  for (const auto& p : published.columns) {
    md << " " << p << " |";
    csv << "," << p;
  }
  md << "\n|---|---|---|";
  for (size_t i = 0; i < columns.size() + published.columns.size(); ++i) md << "---|";
  md << "\n";
  csv << "\n";
  for (const auto& row : per_set) {
    md << "| " << row["set"].get<std::string>() << " | " << row["train_series"] << " | " << row["test_series"] << " |";
    csv << row["set"].get<std::string>() << "," << row["train_series"] << "," << row["test_series"];
    for (const auto& c : columns) {
      const auto& cell = row["ours"][column_title(c)];
      const double mean = cell["mean"].is_number() ? cell["mean"].get<double>() : std::nan("");
      const double sd = cell["std"].is_number() ? cell["std"].get<double>() : std::nan("");
      md << " " << format_fixed(mean) << (config.experiment.seeds > 1 && !std::isnan(sd) ? " ± " + format_fixed(sd) : "") << " |";
      csv << "," << format_fixed(mean, 4) << "," << format_fixed(sd, 4);
    }
    for (const auto& p : published.columns) {
      const bool has = row.contains("published") && row["published"].contains(p);
      md << " " << (has ? format_fixed(row["published"][p].get<double>()) : "-") << " |";
      csv << "," << (has ? format_fixed(row["published"][p].get<double>(), 4) : "");
    }
    md << "\n";
    csv << "\n";
  }

  return md.str();
}

/// Our columns against every published one: sets at or above, and within 0.02.
std::string against_section(const std::vector<Column>& columns, const json& per_set, const PublishedTable& published,
                            json& against) {
  std::ostringstream md;
  if (!published.columns.empty()) {
    md << "\n## Against the published figures\n\nSets where our mean is at or above the published figure (and "
          "within 0.02 below it), of the sets where one is published:\n\n| Ours |";
    for (const auto& p : published.columns) md << " " << p << " |";
    md << "\n|---|";
    for (size_t i = 0; i < published.columns.size(); ++i) md << "---|";
    md << "\n";
    for (const auto& c : columns) {
      md << "| " << column_title(c) << " |";
      for (const auto& p : published.columns) {
        int64_t at_or_above = 0, within = 0, sets_with = 0;
        for (const auto& row : per_set) {
          const auto& cell = row["ours"][column_title(c)];
          if (!row.contains("published") || !row["published"].contains(p) || !cell["mean"].is_number()) continue;
          ++sets_with;
          const double diff = cell["mean"].get<double>() - row["published"][p].get<double>();
          if (diff >= -1e-9) ++at_or_above;
          if (diff >= -0.02 - 1e-9) ++within;
        }
        against[column_title(c)][p] = {{"at_or_above", at_or_above}, {"within_0.02", within}, {"sets", sets_with}};
        md << " " << (sets_with ? std::to_string(at_or_above) + " (" + std::to_string(within) + ") of " +
                                      std::to_string(sets_with)
                                : "-")
           << " |";
      }
      md << "\n";
    }
  }

  return md.str();
}

/// LEAVES against SimCLR, paired over (set, seed) and over set means.
std::string paired_section(const BenchmarkConfig& config, const SetList& sets, SeedValues& seeds, json& paired) {
  std::ostringstream md;
  const auto& methods = config.experiment.methods;
  const bool both = std::count(methods.begin(), methods.end(), "leaves") && std::count(methods.begin(), methods.end(), "simclr");
  if (both) {
    md << "\n## LEAVES against SimCLR (random augmentations), paired\n\n"
       << "| Protocol | Pairs | LEAVES wins / ties / losses | Mean difference | Wilcoxon signed-rank p |\n"
       << "|---|---|---|---|---|\n";
    for (const std::string kind : {"accuracy", "svm"}) {
      if (kind == "svm" && config.experiment.svm == "off") continue;
      const auto a_title = column_title({"leaves", kind}), b_title = column_title({"simclr", kind});
      std::vector<double> a, b, am, bm;
      for (const auto& [name, spec] : sets) {
        const auto& va = seeds[a_title][name];
        const auto& vb = seeds[b_title][name];
        for (size_t i = 0; i < std::min(va.size(), vb.size()); ++i) a.push_back(va[i]), b.push_back(vb[i]);
        am.push_back(mean_and_sd(va).first);
        bm.push_back(mean_and_sd(vb).first);
      }
      const std::string label = kind == "svm" ? "SVM" : "fine-tuned";
      for (const auto& [what, cmp] : {std::make_pair(std::string("(set, seed) pairs"), compare_paired(a, b)),
                                      std::make_pair(std::string("set means"), compare_paired(am, bm))}) {
        paired[label][what] = cmp.to_json();
        md << "| " << label << ", " << what << " | " << cmp.n << " | " << cmp.wins << " / " << cmp.ties << " / "
           << cmp.losses << " | " << signed_fixed(cmp.mean_difference) << " | " << p_text(cmp.p_value) << " |\n";
      }
    }
  }
  return md.str();
}

}  // namespace

json run_benchmark(const BenchmarkConfig& config, const fs::path& out, std::ostream* progress) {
  if (config.sets.empty()) throw OptionError("sets", ": give at least one set");
  PublishedTable published;
  if (!config.published.empty()) published = read_published(config.published);
  const auto sets = resolve_sets(config);
  io::require_new_or_own(out, "--out", "benchmark.json", "a leaves benchmark");
  io::DirLock lock(out, "benchmark directory");
  json settings{{"root", config.root.string()},
                {"published", config.published.string()},
                {"data_options", config.data_options},
                {"methods", config.experiment.methods},
                {"seeds", config.experiment.seeds}};
  if (!fs::exists(out / "benchmark.json")) io::write_file(out / "benchmark.json", json{{"settings", settings}}.dump(2) + "\n");
  fs::create_directories(out / "sets");

  // Our columns: every method fine-tuned, then every pre-trained method's SVM.
  std::vector<Column> columns;
  for (const auto& m : config.experiment.methods) columns.emplace_back(m, "accuracy");
  if (config.experiment.svm != "off")
    for (const auto& m : config.experiment.methods)
      if (m != "supervised") columns.emplace_back(m, "svm");

  json per_set = json::array();
  SeedValues seeds;
  for (const auto& [name, spec] : sets) per_set.push_back(run_set(config, name, spec, out, columns, published, seeds, progress));

  std::ostringstream csv;
  json against = json::object(), paired = json::object();
  const std::string md = table_section(config, columns, per_set, published, csv) +
                         against_section(columns, per_set, published, against) +
                         paired_section(config, sets, seeds, paired) +
                         "\nEach set's runs, their logs and the equivalent commands: `sets/NAME/results.md`.\n";
  json result{{"sets", per_set},
              {"published_columns", published.columns},
              {"against_published", against},
              {"leaves_against_simclr", paired},
              {"settings", settings}};
  io::write_file(out / "benchmark.json", result.dump(2) + "\n");
  io::write_file(out / "benchmark.csv", csv.str());
  io::write_file(out / "benchmark.md", md);
  if (progress) *progress << "\n" << md;
  return result;
}

}  // namespace leaves::train
