#include "leaves/plot/report.h"
#include "leaves/option_error.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>
#include <stdexcept>

#include "leaves/augment/time_warp.h"
#include "leaves/data/spec.h"
#include "leaves/data/tables.h"
#include "leaves/train/pretrain.h"
#include "leaves/io/output.h"

namespace leaves::plot {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string base64_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::invalid_argument(file.string() + ": cannot open the file");
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

namespace {

json read_json_file(const fs::path& p) {
  std::ifstream f(p);
  if (!f) throw std::invalid_argument(p.string() + ": not found");
  auto j = json::parse(f, nullptr, false);
  if (j.is_discarded()) throw std::invalid_argument(p.string() + ": not valid JSON");
  return j;
}

std::vector<json> read_log(const fs::path& run_dir) {
  if (!fs::exists(run_dir / "log.jsonl")) throw std::invalid_argument(run_dir.string() + ": no log.jsonl");
  return io::JsonLinesLog(run_dir / "log.jsonl").read();
}

}  // namespace

void figure_curves(const fs::path& run_dir, const fs::path& stem, FigureSize size) { plot_curves(read_log(run_dir), stem, size); }
void figure_params(const fs::path& run_dir, const fs::path& stem, FigureSize size) { plot_params(read_log(run_dir), stem, size); }

void figure_params_of_runs(const std::vector<fs::path>& run_dirs, const std::vector<std::string>& labels,
                           const fs::path& stem, FigureSize size) {
  if (!labels.empty() && labels.size() != run_dirs.size()) {
    throw OptionError("label", ": give one per --run (" + std::to_string(run_dirs.size()) + " runs, " +
                                   std::to_string(labels.size()) + " labels)");
  }
  std::vector<std::pair<std::string, std::vector<json>>> runs;
  for (size_t i = 0; i < run_dirs.size(); ++i) {
    const auto name = run_dirs[i].filename().empty() ? run_dirs[i].parent_path().filename() : run_dirs[i].filename();
    runs.emplace_back(labels.empty() ? name.string() : labels[i], read_log(run_dirs[i]));
  }
  plot_params_of_runs(runs, stem, size);
}

void figure_confusion(const fs::path& dir, const fs::path& stem, FigureSize size) {
  const auto m = read_json_file(dir / "metrics.json");
  plot_confusion(m["test"]["confusion"].get<std::vector<std::vector<int64_t>>>(), m["class_names"].get<std::vector<std::string>>(),
                 stem, size);
}

void figure_roc(const fs::path& dir, const fs::path& stem, FigureSize size) {
  const auto m = read_json_file(dir / "metrics.json");
  const auto classes = m["class_names"].get<std::vector<std::string>>();
  auto table = data::read_csv(dir / "test_predictions.csv");  // index, label, p_class...
  if (table.dim() != 2 || table.size(1) != 2 + static_cast<int64_t>(classes.size())) {
    throw std::invalid_argument((dir / "test_predictions.csv").string() + ": expected index, label and one column per class");
  }
  auto labels = table.select(1, 1).to(torch::kLong);
  auto keep = (labels >= 0).nonzero().flatten();  // multi-label data: single-label samples only
  int64_t positive = -1;
  const auto cfg = fs::exists(dir / "config.json") ? read_json_file(dir / "config.json") : json::object();
  const auto pos_name = cfg.value("positive", std::string());
  for (size_t k = 0; k < classes.size(); ++k)
    if (classes[k] == pos_name) positive = static_cast<int64_t>(k);
  plot_roc(labels.index_select(0, keep), table.slice(1, 2).index_select(0, keep), classes, positive, stem, size);
}

void figure_time_distortion(views::LeavesImpl& g, const torch::Tensor& x, const fs::path& stem, FigureSize size) {
  torch::NoGradGuard no_grad;
  auto input = x.to(torch::kFloat).view({1, 1, -1});
  auto noise = g.distortion->sample_noise(input);
  auto lambda = g.distortion->locations(noise);  // [1, 1, L]
  auto distorted = augment::time_distort(input, lambda);
  plot_time_distortion(g.distortion->weights(), g.distortion->means(), g.distortion->scales(), x, distorted.flatten(),
                       lambda.flatten(), stem, size);
}

void figure_gallery(views::LeavesImpl& g, const torch::Tensor& x, double rate, const fs::path& stem, FigureSize size) {
  torch::NoGradGuard no_grad;
  auto input = x.to(torch::kFloat).view({1, 1, -1});
  auto warp = augment::TimeWarp(augment::TimeWarpOptions().eta(g.options.eta()));
  auto fmt = [](const std::string& name, double v) {
    std::ostringstream s;
    s << name << " = " << std::setprecision(3) << v;
    return s.str();
  };
  Series panels{
      {fmt("jitter: sigma", g.jitter->sigma().item<double>()), g.jitter->forward(input).flatten()},
      {fmt("scale: sigma", g.scale->sigma().item<double>()), g.scale->forward(input).flatten()},
      {fmt("magnitude warp: sigma", g.magwarp->sigma().item<double>()), g.magwarp->forward(input).flatten()},
      {fmt("time warp: sigma", warp->sigma().item<double>()), warp->forward(input).flatten()},
      {"time distortion (mixture)", g.distortion->forward(input).flatten()},
      {fmt("permutation: k", g.permutation->max_segments().item<double>()), g.permutation->forward(input).flatten()},
  };
  plot_gallery(x, panels, rate, stem, size);
}

namespace {

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string cell(const json& v) {
  if (v.is_null()) return "n/a";
  if (v.is_number_float()) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(3) << v.get<double>();
    return s.str();
  }
  if (v.is_string()) return escape(v.get<std::string>());
  return escape(v.dump());
}

std::string key_value_table(const json& j) {
  std::ostringstream s;
  s << "<table class=\"kv\">";
  const json flat = j.flatten();  // items() refers into it: keep it alive
  for (const auto& item : flat.items()) s << "<tr><th>" << escape(item.key()) << "</th><td>" << cell(item.value()) << "</td></tr>";
  s << "</table>";
  return s.str();
}

class Page {
 public:
  explicit Page(fs::path scratch) : scratch_(std::move(scratch)) { fs::create_directories(scratch_); }
  ~Page() {
    std::error_code ec;
    fs::remove_all(scratch_, ec);
  }
  void heading(const std::string& h) { body_ << "<h2>" << escape(h) << "</h2>\n"; }
  void html(const std::string& h) { body_ << h << "\n"; }
  void paragraph(const std::string& t) { body_ << "<p>" << escape(t) << "</p>\n"; }
  // Draws a figure with `draw(stem)` and embeds its PNG; a figure that cannot
  // be drawn is reported in the page instead of failing the report.
  void figure(const std::string& caption, const std::function<void(const fs::path&)>& draw) {
    const auto stem = scratch_ / ("fig" + std::to_string(figures_++));
    try {
      draw(stem);
      body_ << "<figure><img alt=\"" << escape(caption) << "\" src=\"data:image/png;base64," << base64_file(stem.string() + ".png")
            << "\"><figcaption>" << escape(caption) << "</figcaption></figure>\n";
    } catch (const std::invalid_argument& e) {
      body_ << "<p class=\"note\">" << escape(caption) << ": not drawn (" << escape(e.what()) << ")</p>\n";
    }
  }
  std::string document(const std::string& title) const {
    std::ostringstream d;
    d << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << escape(title) << "</title>\n<style>\n"
      << "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
      << "h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}"
      << "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em}"
      << "th{background:#f4f4f4}table.kv th{font-weight:normal;font-family:monospace}"
      << "figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:.9em}"
      << ".note{color:#a40}pre{white-space:pre-wrap;word-break:break-all;font-size:.8em}\n</style>\n</head>\n<body>\n<h1>" << escape(title) << "</h1>\n"
      << body_.str() << "<p class=\"note\" style=\"color:#777\">Written by leaves report.</p>\n</body>\n</html>\n";
    return d.str();
  }

 private:
  fs::path scratch_;
  std::ostringstream body_;
  int figures_ = 0;
};

std::string metrics_table(const json& test) {
  std::ostringstream s;
  s << "<table><tr><th>metric</th><th>test</th><th>95% CI (bootstrap)</th></tr>";
  for (const char* m : {"accuracy", "macro_f1", "auc", "sensitivity", "specificity"}) {
    if (!test.contains(m) || test[m].is_null()) continue;
    s << "<tr><td>" << m << "</td><td>" << cell(test[m]) << "</td><td>";
    if (test["ci95"].contains(m)) s << cell(test["ci95"][m][0]) << " – " << cell(test["ci95"][m][1]);
    s << "</td></tr>";
  }
  s << "</table><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>";
  for (const auto& c : test["per_class"])
    s << "<tr><td>" << cell(c["class"]) << "</td><td>" << cell(c["precision"]) << "</td><td>" << cell(c["recall"]) << "</td><td>"
      << cell(c["f1"]) << "</td><td>" << cell(c["support"]) << "</td></tr>";
  s << "</table>";
  return s.str();
}

}  // namespace

namespace {

// An experiment: the results table, every run, the confusion matrix of every run (each seed), the commands.
std::string experiment_page(Page& page, const fs::path& run_dir) {
  const auto r = read_json_file(run_dir / "results.json");
  const std::string title = "leaves experiment: " + r.value("data", std::string());
  const auto metrics = r["metrics"].get<std::vector<std::string>>();
  page.paragraph("Test metrics, mean ± sample standard deviation over " + std::to_string(r.value("seeds", 0)) +
                 " seed(s); each run selected on the validation split (" + cell(r["select"]) + "), tested once.");
  std::ostringstream t;
  t << "<table><tr><th>method</th>";
  for (const auto& m : metrics) t << "<th>" << escape(m) << "</th>";
  t << "</tr>";
  for (const auto& s : r["summary"]) {
    t << "<tr><td>" << cell(s["label"]) << "</td>";
    for (const auto& m : metrics) t << "<td>" << cell(s[m]["mean"]) << " ± " << cell(s[m]["std"]) << "</td>";
    t << "</tr>";
  }
  t << "</table>";
  page.heading("Results");
  page.html(t.str());
  page.heading("Runs");
  std::ostringstream runs;
  runs << "<table><tr><th>method</th><th>seed</th><th>best epoch</th>";
  for (const auto& m : metrics) runs << "<th>test " << escape(m) << " [95% CI]</th>";
  runs << "</tr>";
  for (const auto& run : r["runs"]) {
    runs << "<tr><td>" << cell(run["label"]) << "</td><td>" << cell(run["seed"]) << "</td><td>" << cell(run["best_epoch"]) << "</td>";
    for (const auto& m : metrics) {
      runs << "<td>" << cell(run["test"][m]);
      if (run["test"]["ci95"].contains(m)) runs << " [" << cell(run["test"]["ci95"][m][0]) << ", " << cell(run["test"]["ci95"][m][1]) << "]";
      runs << "</td>";
    }
    runs << "</tr>";
  }
  runs << "</table>";
  page.html(runs.str());
  for (const auto& run : r["runs"]) {
    const fs::path ft = run_dir / run["finetune_dir"].get<std::string>();
    page.figure("Confusion matrix, " + run["label"].get<std::string>() + ", seed " + cell(run["seed"]),
                [&](const fs::path& stem) { figure_confusion(ft, stem, {600, 480}); });
  }
  // Table 6: the SimCLR sweep, when the experiment ran one.
  std::ostringstream t6;
  int swept = 0;
  t6 << "<table><tr><th>SimCLR</th><th>accuracy</th><th>macro-F1</th></tr>";
  for (const auto& row : r["summary"]) {
    const auto label = row.value("label", std::string());
    if (label.rfind("SimCLR T(", 0) != 0) continue;
    ++swept;
    auto mean = [&](const char* m) { return row.contains(m) ? cell(row[m]["mean"]) : std::string("-"); };
    t6 << "<tr><td>" << escape(label) << "</td><td>" << mean("accuracy") << "</td><td>" << mean("macro_f1") << "</td></tr>";
  }
  t6 << "</table>";
  if (swept > 0) {
    page.heading("SimCLR with T(sigma) (Table 6)");
    page.html(t6.str());
  }
  // What each learned generator learned, its seeds side by side (Fig. 5).
  std::map<std::string, std::vector<fs::path>> pretrained;
  std::map<std::string, std::vector<std::string>> seeds;
  for (const auto& run : r["runs"]) {
    if (!run["pretrain_dir"].is_string() || run.value("method", std::string()) != "leaves") continue;
    pretrained[run["label"].get<std::string>()].push_back(run_dir / run["pretrain_dir"].get<std::string>());
    seeds[run["label"].get<std::string>()].push_back("seed " + cell(run["seed"]));
  }
  if (!pretrained.empty()) page.heading("Learned view parameters");
  for (const auto& entry : pretrained) {
    const std::string& label = entry.first;  // named copies: a lambda may not capture structured bindings (C++17)
    const std::vector<fs::path>& dirs = entry.second;
    page.figure(label + ": the scalar learned parameters across epochs, every seed",
                [&](const fs::path& stem) { figure_params_of_runs(dirs, seeds[label], stem, {1100, 800}); });
  }
  page.heading("Commands");
  std::ostringstream c;
  c << "<pre>";
  for (const auto& cmd : r["commands"]) c << escape(cmd.get<std::string>()) << "\n";
  c << "</pre>";
  page.html(c.str());
  return title;
}

// A fine-tuning run: test metrics, figures, configuration.
std::string finetune_page(Page& page, const fs::path& run_dir) {
  const auto m = read_json_file(run_dir / "metrics.json");
  const auto cfg = fs::exists(run_dir / "config.json") ? read_json_file(run_dir / "config.json") : json::object();
  const std::string title = "leaves fine-tuning run: " + run_dir.filename().string();
  page.paragraph("Selected epoch " + cell(m["best_epoch"]) + " of " + cell(m["epochs_run"]) + " by validation " +
                 cell(m["select"]) + " = " + cell(m["val"][m["select"].get<std::string>()]) +
                 "; the test split was evaluated once with those weights.");
  page.heading("Test metrics");
  page.html(metrics_table(m["test"]));
  page.heading("Figures");
  page.figure("Confusion matrix (test)", [&](const fs::path& stem) { figure_confusion(run_dir, stem, {900, 700}); });
  page.figure("ROC (test)", [&](const fs::path& stem) { figure_roc(run_dir, stem, {800, 700}); });
  page.figure("Training loss and validation metric", [&](const fs::path& stem) { figure_curves(run_dir, stem); });
  page.heading("Configuration");
  page.html(key_value_table(cfg));
  return title;
}

// A pre-training run: curves, learned parameters, views of a test signal, configuration.
std::string pretrain_page(Page& page, const fs::path& run_dir) {
  const auto cfg = read_json_file(run_dir / "config.json");
  const std::string title = "leaves pre-training run: " + run_dir.filename().string() + " (" + cfg.value("method", std::string("?")) + ")";
  const auto log = read_log(run_dir);
  page.paragraph(std::to_string(log.size()) + " epoch(s) logged; data " + cfg.value("data", std::string("?")) + ".");
  page.heading("Training");
  page.figure("Encoder and generator losses per epoch", [&](const fs::path& stem) { figure_curves(run_dir, stem); });
  page.figure("Learned view parameters across epochs", [&](const fs::path& stem) { figure_params(run_dir, stem, {1100, 800}); });
  page.heading("Views");
  try {
    train::PretrainConfig config;
    auto g = train::load_generator(run_dir, &config);
    // The data as resolved when the run began (absolute paths), else as typed.
    const auto recorded = cfg.contains("resolved") && cfg["resolved"].contains("data")
                              ? cfg["resolved"]["data"].get<std::string>()
                              : config.data;
    auto splits = data::load_splits(data::parse_data_spec(recorded));
    const auto& d = splits.test.size() > 0 ? splits.test : splits.train;
    auto x = d.x.slice(0, 0, 1);
    torch::NoGradGuard no_grad;
    g->eval();
    Series views{{"view 1", g->forward(x)[0][0]}, {"view 2", g->forward(x)[0][0]}};
    page.figure("A test signal (channel 0) and two views of it",
                [&](const fs::path& stem) { plot_views(x[0][0], views, d.rate, "Original and views", stem); });
    if (auto leaves = std::dynamic_pointer_cast<views::LeavesImpl>(g)) {
      page.figure("Each augmentation of the trained module on its own",
                  [&](const fs::path& stem) { figure_gallery(*leaves, x[0][0], d.rate, stem, {1100, 800}); });
      page.figure("The learned time distortion",
                  [&](const fs::path& stem) { figure_time_distortion(*leaves, x[0][0], stem, {1100, 450}); });
    }
  } catch (const std::invalid_argument& e) {
    page.paragraph(std::string("Views not drawn: ") + e.what());
  }
  page.heading("Configuration");
  page.html(key_value_table(cfg));
  return title;
}

}  // namespace

std::string write_report(const fs::path& run_dir, const fs::path& html) {
  const fs::path scratch = fs::temp_directory_path() / ("leaves-report-" + std::to_string(::getpid()));
  Page page(scratch);
  std::string kind, title;
  if (fs::exists(run_dir / "results.json")) {
    kind = "experiment";
    title = experiment_page(page, run_dir);
  } else if (fs::exists(run_dir / "metrics.json")) {
    kind = "finetune";
    title = finetune_page(page, run_dir);
  } else if (fs::exists(run_dir / "config.json") && fs::exists(run_dir / "log.jsonl")) {
    kind = "pretrain";
    title = pretrain_page(page, run_dir);
  } else {
    throw std::invalid_argument(run_dir.string() + ": not a leaves run (no results.json, metrics.json, or config.json + log.jsonl)");
  }
  io::write_file(html, page.document(title));
  return kind;
}

}  // namespace leaves::plot
