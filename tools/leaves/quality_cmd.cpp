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
#include "leaves/quality/study.h"
#include "leaves/train/pretrain.h"
#include "leaves/io/output.h"
#include "leaves/views/factory.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

namespace fs = std::filesystem;

namespace {

struct QualityArgs {
  quality::StudyOptions study;
  std::string out, approach = "simple", formula = "old";
  bool raw = false;
};

int run_quality(QualityArgs a) {
  a.study.fuzzy = a.approach == "fuzzy";
  a.study.formula = a.formula == "new" ? quality::BasSqiFormula::New : quality::BasSqiFormula::Old;
  a.study.clean = !a.raw;
  const auto study = quality::run_study(a.study);
  std::cout << "ECG quality (Zhao & Zhang 2018, " << a.approach << " decision, basSQI " << a.formula << " formula"
            << (a.raw ? ", not cleaned" : ", cleaned first") << ") of " << a.study.split << " signals, channel "
            << study.channel << ", at " << study.rate << " Hz:\n\n"
            << study.markdown();
  if (study.without_bassqi > 0) {
    // Zhao & Zhang's basSQI needs two Welch bins in [4 fs / N, 1) Hz: about 6 s
    // of signal. Without it the decision is Unacceptable, whatever the signal.
    std::ostringstream length;  // not through std::cout's own precision, which the lines after it keep
    length << std::setprecision(3) << study.seconds;
    std::cout << "\nnote: basSQI is undefined for " << study.without_bassqi << " of " << study.assessed << " signals ("
              << length.str() << " s each; it needs about 6 s), so they count as Unacceptable";
    if (study.seconds < 6.5) std::cout << ": use longer windows (the paper's are 10 s or more)";
    std::cout << "\n";
  }
  if (!a.out.empty()) {
    fs::create_directories(a.out);
    io::write_file(fs::path(a.out) / "quality.csv", study.csv());
    io::write_file(fs::path(a.out) / "quality.json", study.to_json().dump(2) + "\n");
    std::cout << "\nwrote " << (fs::path(a.out) / "quality.csv").string() << " (one line per signal) and quality.json\n";
  }
  return 0;
}

}  // namespace

Action add_quality_command(CLI::App& app) {
  auto a = std::make_shared<QualityArgs>();
  auto* cmd = app.add_subcommand("quality", "ECG quality (Zhao & Zhang 2018) of signals and of generated views (Table 5)");
  cmd->add_option("--data", a->study.data, "data spec or prepared directory")->capture_default_str();
  cmd->add_option("--split", a->study.split, "train | val | test")->check(CLI::IsMember({"train", "val", "test"}))->capture_default_str();
  cmd->add_option("--channel", a->study.channel, "channel name or index (default: the first)");
  cmd->add_option("--generator", a->study.generators, "a pre-training run whose trained generator makes views (repeatable)");
  cmd->add_option("--method", a->study.methods, "an untrained generator: leaves | viewmaker | simclr (repeatable)")
      ->check(CLI::IsMember({"leaves", "viewmaker", "simclr"}));
  cmd->add_option("--views", a->study.views, "views per signal and generator")->check(kPositive)->capture_default_str();
  cmd->add_option("--limit", a->study.limit, "only the first N signals (0: all)")->check(kNonNegative)->capture_default_str();
  cmd->add_option("--approach", a->approach, "simple | fuzzy")->check(CLI::IsMember({"simple", "fuzzy"}))->capture_default_str();
  cmd->add_option("--formula", a->formula, "basSQI: old (NeuroKit <= 0.2.4, as LEAVES) | new")
      ->check(CLI::IsMember({"old", "new"}))
      ->capture_default_str();
  cmd->add_flag("--raw", a->raw, "skip ecg_clean (the signals are already clean)");
  cmd->add_option("--rate", a->study.rate, "sampling rate in Hz when the data does not give it");
  cmd->add_option("--seed", a->study.seed, "random seed of the views")->check(kNonNegative)->capture_default_str();
  cmd->add_option("--out", a->out, "write quality.csv and quality.json here");
  return [a] { return run_quality(*a); };
}

}  // namespace leaves::cli
