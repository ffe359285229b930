// `leaves prepare` and `leaves info`: build a data spec's splits once into a
// directory of binary tensors, and describe such a directory.
#include <cstdio>
#include <iostream>

#include <algorithm>

#include "leaves/data/cache.h"
#include "leaves/data/download.h"
#include "leaves/data/studies.h"
#include "leaves/option_error.h"
#include "leaves/train/experiment.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

namespace {

void print_info(const nlohmann::json& info, const std::string& stale) {
  const double rate = info["rate"].get<double>();
  std::cout << "data     " << info["spec"].get<std::string>() << " (" << info["kind"].get<std::string>() << ")\n"
            << "series   " << info["channels"] << " channel(s) x " << info["length"] << " samples"
            << (rate > 0 ? " at " + std::to_string(rate).substr(0, std::to_string(rate).find('.')) + " Hz" : ", rate not given")
            << "\n"
            << "classes  ";
  const auto classes = info["class_names"].get<std::vector<std::string>>();
  for (size_t i = 0; i < classes.size(); ++i) std::cout << (i ? ", " : "") << classes[i];
  std::cout << "\n";
  for (const char* split : {"train", "val", "test"}) {
    const auto& s = info["splits"][split];
    std::printf("%-8s %6lld  per class:", split, static_cast<long long>(s["size"].get<int64_t>()));
    for (const auto& c : s["class_counts"]) std::printf(" %lld", static_cast<long long>(c.get<int64_t>()));
    std::printf("\n");
  }
  std::cout << "sources  " << info["sources"].size() << " file(s), " << (stale.empty() ? "unchanged" : "STALE: " + stale)
            << "\n";
}

// The sizes the paper reports beside the data's (a preset's [paper] table).
void print_paper_sizes(const nlohmann::json& info, const nlohmann::json& paper, const std::string& preset) {
  if (paper.empty()) {
    std::cout << "paper    the preset " << preset << " records no sizes of the paper's data set\n";
    return;
  }
  int64_t total = 0;
  std::map<std::string, int64_t> per_class;
  const auto classes = info["class_names"].get<std::vector<std::string>>();
  for (const char* split : {"train", "val", "test"}) {
    const auto& s = info["splits"][split];
    total += s["size"].get<int64_t>();
    for (size_t k = 0; k < classes.size() && k < s["class_counts"].size(); ++k) per_class[classes[k]] += s["class_counts"][k].get<int64_t>();
  }
  const int64_t train = info["splits"]["train"]["size"].get<int64_t>() + info["splits"]["val"]["size"].get<int64_t>();
  const int64_t test = info["splits"]["test"]["size"].get<int64_t>();
  auto line = [](const std::string& what, int64_t paper_value, int64_t here) {
    std::printf("paper    %-14s %8lld   here %8lld  (%+.1f %%)\n", what.c_str(), static_cast<long long>(paper_value),
                static_cast<long long>(here), 100.0 * (static_cast<double>(here) - paper_value) / paper_value);
  };
  if (paper.contains("samples")) line("samples", paper["samples"].get<int64_t>(), total);
  if (paper.contains("train")) line("train + val", paper["train"].get<int64_t>(), train);
  if (paper.contains("test")) line("test", paper["test"].get<int64_t>(), test);
  if (paper.contains("class_counts")) {
    for (const auto& [name, n] : paper["class_counts"].items()) line("class " + name, n.get<int64_t>(), per_class[name]);
  }
}

}  // namespace

// The spec a `leaves prepare` call stands for: either a whole data spec, or a
// study or format name with --root (and --x/--y for csv and npy arrays), plus
// --set KEY=VALUE options.
static std::string prepare_spec(const std::string& what, const std::string& root, const std::string& x, const std::string& y,
                         const std::vector<std::string>& sets) {
  static const std::vector<std::string> studies{"apnea-ecg", "sleep-edf", "ptb-xl", "pamap2", "ucr", "uea"};
  std::string spec;
  const bool is_study = std::find(studies.begin(), studies.end(), what) != studies.end();
  const bool is_array = what == "csv" || what == "npy";
  if (is_study) {
    if (root.empty()) throw std::invalid_argument("leaves prepare " + what + ": give the raw files' folder with --root RAW");
    spec = what + ":path=" + root;
  } else if (is_array) {
    auto xs = x, ys = y;
    if (xs.empty() && !root.empty()) xs = root + "/x." + what;
    if (ys.empty() && !root.empty()) ys = root + "/y." + what;
    if (xs.empty() || ys.empty()) {
      throw std::invalid_argument("leaves prepare " + what + ": give --x SERIES and --y LABELS (or --root DIR holding x." +
                                  what + " and y." + what + ")");
    }
    spec = "arrays:x=" + xs + ",y=" + ys;
  } else {
    if (!root.empty() || !x.empty() || !y.empty()) {
      throw std::invalid_argument("leaves prepare: --root/--x/--y go with a study or format name (apnea-ecg, sleep-edf, "
                                  "ptb-xl, pamap2, ucr, uea, csv, npy), not with the spec '" + what + "'");
    }
    spec = what;
  }
  for (const auto& kv : sets) {
    if (kv.find('=') == std::string::npos || kv.front() == '=') {
      throw std::invalid_argument("--set '" + kv + "': expected KEY=VALUE");
    }
    spec += (spec.find(':') == std::string::npos ? ":" : ",") + kv;
  }
  return spec;
}

Action add_prepare_command(CLI::App& app) {
  struct Args {
    std::string what, root, x, y, out;
    std::vector<std::string> sets;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("prepare", "Build a data set's train/validation/test splits once into DIR");
  cmd->add_option("what", a->what,
                  "apnea-ecg | sleep-edf | ptb-xl | pamap2 | ucr | uea (with --root), csv | npy (with --x/--y), "
                  "or a whole data spec such as ucr:path/to/ECG200,val=0.25")
      ->required();
  cmd->add_option("--root", a->root, "the folder of raw files, as published");
  cmd->add_option("--x", a->x, "csv/npy: the series file ([N, C, L] or [N, L])");
  cmd->add_option("--y", a->y, "csv/npy: the labels file (N class indices)");
  cmd->add_option("--set", a->sets, "a spec option KEY=VALUE (repeatable): split_seed, normalize, resample, select, ...");
  cmd->add_option("--out", a->out, "folder to write: new, empty, or an earlier prepared set (replaced whole, once the new one is complete)")->required();
  return [a] {
    const auto spec = prepare_spec(a->what, a->root, a->x, a->y, a->sets);
    auto info = data::prepare_dataset(data::parse_data_spec(spec), a->out);
    print_info(info, "");
    std::cout << "prepared " << a->out << "; use it with --data " << a->out << "\n";
    return 0;
  };
}

Action add_download_command(CLI::App& app) {
  struct Args {
    std::string study, dest, base_url, checksums, subjects;
    std::vector<std::string> only;
    int retries = 3;
    bool allow_unverified = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("download", "Fetch a study's raw files from PhysioNet or UCI, resumable, verified");
  cmd->add_option("study", a->study, "apnea-ecg | sleep-edf | ptb-xl | pamap2")
      ->required()
      ->check(CLI::IsMember({"apnea-ecg", "sleep-edf", "ptb-xl", "pamap2"}));
  cmd->add_option("--dest", a->dest, "folder to download into (files land only when verified)")->required();
  cmd->add_option("--base-url", a->base_url, "a mirror of the publisher's folder (default: the publisher)");
  cmd->add_option("--checksums", a->checksums, "name of the checksum list under the base URL (default SHA256SUMS.txt)");
  cmd->add_option("--only", a->only, "keep only files matching these glob patterns (repeatable), e.g. 'a0*'");
  cmd->add_option("--subjects", a->subjects,
                  "sleep-edf: only these subjects' nights, e.g. 0-19 (the paper's 2013 cohort: 39 nights) or 3+7");
  cmd->add_option("--retries", a->retries, "further attempts per file after a dropped transfer")
      ->check(kNonNegative)
      ->capture_default_str();
  cmd->add_flag("--allow-unverified", a->allow_unverified,
                "accept files the publisher gives no digest for (Apnea-ECG's event-2.txt, PAMAP2's archive) once "
                "their announced length and format check out; without it they are installed but the command fails");
  return [a] {
    const auto source = data::download_source(a->study);
    data::DownloadOptions o;
    o.dest = a->dest;
    o.base_url = a->base_url;
    o.checksums = a->checksums;
    o.only = a->only;
    if (!a->subjects.empty()) {
      if (a->study != "sleep-edf") throw OptionError("subjects", ": for sleep-edf only");
      if (!a->only.empty()) throw OptionError("subjects", ": give --subjects or --only, not both");
      // Subject ss's files are SC4ssN*: a pattern each.
      for (int s : data::parse_subjects(a->subjects)) o.only.push_back(std::string("*SC4") + (s < 10 ? "0" : "") + std::to_string(s) + "*");
    }
    o.retries = a->retries;
    o.progress = [](const std::string& line) { std::cout << line << std::endl; };
    const auto r = data::download(source, o);
    std::cout << r.files << " file(s): " << r.fetched << " fetched (" << r.resumed << " resumed), " << r.already_present
              << " already present; " << r.bytes << " bytes received; "
              << (r.algorithm.empty() ? std::string("no checksum list published")
                                      : "verified by the publisher's " + r.algorithm + " list")
              << (r.unverified > 0 ? "; " + std::to_string(r.unverified) + " file(s) without a published digest (SHA-256 recorded in leaves-download.json)" : "")
              << "\n";
    if (r.unverified > 0 && !a->allow_unverified) {
      std::string files;
      for (const auto& p : r.unverified_paths) files += (files.empty() ? "" : ", ") + p;
      std::cerr << "leaves: unverified: " << files << " (no published digest; checked only for the announced length "
                << "and the format). Run again with --allow-unverified to accept them\n";
      return 1;
    }
    std::cout << "next: " << source.after << "\n";
    return 0;
  };
}

Action add_info_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto preset = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("info", "Describe a prepared data directory: shapes, rate, classes, counts");
  cmd->add_option("dir", *dir, "a directory written by leaves prepare")->required();
  cmd->add_option("--preset", *preset, "also the sizes the paper reports for this preset's data set (configs/NAME.toml)");
  return [dir, preset] {
    const auto info = data::read_prepared_info(*dir);
    print_info(info, data::prepared_staleness(*dir));
    if (!preset->empty()) {
      std::error_code ec;
      train::ExperimentConfig c;
      train::apply_preset(c, train::find_preset(*preset, std::filesystem::read_symlink("/proc/self/exe", ec).parent_path()));
      print_paper_sizes(info, c.paper, *preset);
    }
    return 0;
  };
}

}  // namespace leaves::cli
