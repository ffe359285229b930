#include "leaves/train/results.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "leaves/io/output.h"

namespace leaves::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::pair<double, double> mean_and_sd(const std::vector<double>& v) {
  std::vector<double> ok;
  for (double x : v)
    if (!std::isnan(x)) ok.push_back(x);
  if (ok.empty()) return {std::nan(""), std::nan("")};
  double mean = 0, sd = 0;
  for (double x : ok) mean += x;
  mean /= static_cast<double>(ok.size());
  for (double x : ok) sd += (x - mean) * (x - mean);
  sd = ok.size() > 1 ? std::sqrt(sd / static_cast<double>(ok.size() - 1)) : 0.0;
  return {mean, sd};
}

std::string format_fixed(double v, int digits) {
  if (std::isnan(v)) return "n/a";
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

const char* metric_title(const std::string& m) {
  if (m == "accuracy") return "Acc.";
  if (m == "macro_f1") return "Macro-F1";
  if (m == "auc") return "AUC";
  if (m == "sensitivity") return "Sen.";
  if (m == "specificity") return "Spec.";
  return "?";
}

std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

namespace {

double value(const json& metrics, const std::string& name) {
  return metrics.contains(name) && metrics[name].is_number() ? metrics[name].get<double>() : std::nan("");
}

}  // namespace

ExperimentTable summarise(const std::vector<ResultRow>& rows, const json& runs, const std::vector<std::string>& metric_names,
                          bool svm) {
  json summary = json::array();
  std::ostringstream table;
  table << "| Method |";
  for (const auto& m : metric_names) table << " " << metric_title(m) << " |";
  if (svm) table << " SVM Acc. |";
  table << "\n|---|";
  for (size_t i = 0; i < metric_names.size() + (svm ? 1 : 0); ++i) table << "---|";
  table << "\n";
  for (const auto& row : rows) {
    json s{{"label", row.label}, {"method", row.method}};
    table << "| " << row.label << " |";
    for (const auto& m : metric_names) {
      std::vector<double> v;
      for (const auto& r : runs)
        if (r["label"] == row.label && !std::isnan(value(r["test"], m))) v.push_back(value(r["test"], m));
      const auto [mean, sd] = mean_and_sd(v);
      s[m] = {{"mean", std::isnan(mean) ? json(nullptr) : json(mean)},
              {"std", std::isnan(sd) ? json(nullptr) : json(sd)},
              {"values", v}};
      table << " " << format_fixed(mean) << (v.size() > 1 ? " ± " + format_fixed(sd) : "") << " |";
    }
    if (svm) {
      std::vector<double> v;
      for (const auto& r : runs)
        if (r["label"] == row.label && r.contains("svm")) v.push_back(value(r["svm"], "accuracy"));
      const auto [mean, sd] = mean_and_sd(v);
      if (!v.empty()) s["svm_accuracy"] = {{"mean", mean}, {"std", sd}, {"values", v}};
      table << " " << (v.empty() ? "-" : format_fixed(mean) + (v.size() > 1 ? " ± " + format_fixed(sd) : "")) << " |";
    }
    table << "\n";
    summary.push_back(s);
  }
  // Which class sensitivity and specificity are of (binary tasks).
  for (const auto& r : runs) {
    if (!r["test"].contains("positive")) continue;
    bool shown = false;
    for (const auto& m : metric_names) shown = shown || m == "sensitivity" || m == "specificity" || m == "auc";
    if (shown) table << "\nSensitivity, specificity and AUC of the positive class: " << r["test"]["positive"].get<std::string>() << ".\n";
    break;
  }

  return {summary, table.str()};
}

void write_experiment_results(const fs::path& out, const ExperimentRecord& record, const json& runs,
                              const std::vector<std::string>& metric_names, bool svm, const ExperimentTable& tables,
                              const std::vector<std::string>& commands, json* results_out) {
  const auto& summary = tables.summary;
  json results{{"data", record.data},
               {"preset", record.preset},
               {"seeds", record.seeds},
               {"metrics", metric_names},
               {"select", runs.empty() ? json(nullptr) : runs.front()["select"]},
               {"summary", summary},
               {"runs", runs},
               {"commands", commands},
               {"libtorch", TORCH_VERSION}};
  io::write_file(out / "results.json", results.dump(2) + "\n");

  std::ostringstream csv;
  csv << "method,label,seed,select,best_epoch,val_" << (runs.empty() ? "metric" : runs.front()["select"].get<std::string>());
  for (const auto& m : metric_names) csv << ",test_" << m << ",test_" << m << "_ci_low,test_" << m << "_ci_high";
  csv << "\n";
  for (const auto& r : runs) {
    csv << r["method"].get<std::string>() << ",\"" << r["label"].get<std::string>() << "\"," << r["seed"] << ","
        << r["select"].get<std::string>() << "," << r["best_epoch"] << ","
        << format_fixed(value(r["val"], r["select"].get<std::string>()), 6);
    for (const auto& m : metric_names) {
      const auto& ci = r["test"]["ci95"];
      const bool has = ci.contains(m) && ci[m][0].is_number();
      csv << "," << format_fixed(value(r["test"], m), 6) << "," << (has ? format_fixed(ci[m][0].get<double>(), 6) : "") << ","
          << (has ? format_fixed(ci[m][1].get<double>(), 6) : "");
    }
    csv << "\n";
  }
  io::write_file(out / "results.csv", csv.str());

  std::ostringstream md;
  md << "# leaves experiment\n\n"
     << "Data: `" << record.data << "`" << (record.preset.empty() ? "" : ", preset `" + record.preset + "`") << ". "
     << "Test metrics, mean ± sample standard deviation over " << record.seeds << " seed(s). "
     << (!runs.empty() && runs.front().value("validation", "split") == "none"
             ? std::string("No validation split (too few series): the validation series trained too and each run "
                           "kept its last epoch")
             : "Each run's model was selected on the validation split (" +
                   (runs.empty() ? std::string() : runs.front()["select"].get<std::string>()) + ")")
     << "; the test split was evaluated once."
     << (svm ? " SVM Acc.: an RBF SVM on the frozen pre-trained representations of the whole training split, C "
               "chosen by cross-validation (the T-Loss protocol)."
             : "")
     << "\n\n"
     << tables.table;
  if (!record.sweep_simclr.empty()) {
    md << "\nSimCLR with T(sigma) (paper Table 6 layout, accuracy/macro-F1, mean over seeds):\n\n| Data |";
    for (double s : record.sweep_simclr) md << " T(" << number_text(s) << ") |";
    md << "\n|---|";
    for (size_t i = 0; i < record.sweep_simclr.size(); ++i) md << "---|";
    md << "\n| " << record.data << " |";
    for (double sg : record.sweep_simclr) {
      for (const auto& s : summary) {
        if (s["label"] != "SimCLR T(" + number_text(sg) + ")") continue;
        auto mean_of = [&](const std::string& m) {
          double sum = 0;
          int n = 0;
          for (const auto& r : runs)
            if (r["label"] == s["label"] && !std::isnan(value(r["test"], m))) sum += value(r["test"], m), ++n;
          return n ? sum / n : std::nan("");
        };
        md << " " << format_fixed(100 * mean_of("accuracy"), 1) << "/" << format_fixed(mean_of("macro_f1")) << " |";
      }
    }
    md << "\n";
  }
  md << "\n## Runs\n\n| Method | Seed | Best epoch | Validation " << (runs.empty() ? "" : runs.front()["select"].get<std::string>())
     << " |";
  for (const auto& m : metric_names) md << " Test " << metric_title(m) << " [95% CI] |";
  md << " SVM Acc. | Positive cos |\n|---|---|---|---|";
  for (size_t i = 0; i < metric_names.size() + 2; ++i) md << "---|";
  md << "\n";
  for (const auto& r : runs) {
    md << "| " << r["label"].get<std::string>() << " | " << r["seed"] << " | " << r["best_epoch"] << " | "
       << format_fixed(value(r["val"], r["select"].get<std::string>())) << " |";
    for (const auto& m : metric_names) {
      const auto& ci = r["test"]["ci95"];
      md << " " << format_fixed(value(r["test"], m));
      if (ci.contains(m) && ci[m][0].is_number()) md << " [" << format_fixed(ci[m][0].get<double>()) << ", " << format_fixed(ci[m][1].get<double>()) << "]";
      md << " |";
    }
    md << " " << (r.contains("svm") ? format_fixed(value(r["svm"], "accuracy")) : "-") << " | "
       << (r.contains("positive_similarity") && r["positive_similarity"].is_number()
               ? format_fixed(r["positive_similarity"].get<double>())
               : "-")
       << " |\n";
  }
  md << "\n## Commands\n\nEach run is equivalent to (options at their defaults left out; each run's config.json records every "
        "value):\n\n```sh\n";
  for (const auto& c : commands) md << c << "\n";
  md << "```\n";
  io::write_file(out / "results.md", md.str());
  if (results_out) *results_out = results;
}

}  // namespace leaves::train
