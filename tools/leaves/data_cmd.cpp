// `leaves prepare` and `leaves info`: build a data spec's splits once into a
// directory of binary tensors, and describe such a directory.
#include <cstdio>
#include <iostream>

#include "leaves/data/cache.h"
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

}  // namespace

Action add_prepare_command(CLI::App& app) {
  auto spec = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("prepare", "Build a data spec's train/validation/test splits once into DIR");
  cmd->add_option("spec", *spec, "data spec (see leaves pretrain --help), e.g. ucr:path/to/ECG200")->required();
  cmd->add_option("--out", *out, "directory to write (replaced atomically)")->required();
  return [spec, out] {
    auto info = data::prepare_dataset(data::parse_data_spec(*spec), *out);
    print_info(info, "");
    std::cout << "prepared " << *out << "; use it with --data " << *out << "\n";
    return 0;
  };
}

Action add_info_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("info", "Describe a prepared data directory: shapes, rate, classes, counts");
  cmd->add_option("dir", *dir, "a directory written by leaves prepare")->required();
  return [dir] {
    print_info(data::read_prepared_info(*dir), data::prepared_staleness(*dir));
    return 0;
  };
}

}  // namespace leaves::cli
