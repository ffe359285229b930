// leaves: learned views for contrastive learning on time series.
// Command-line entry: parsing, dispatch, and one clear error line with exit
// code 2 for a bad flag or value.
#include <torch/torch.h>

#include <iostream>
#include <algorithm>
#include <map>

#include "leaves/compat.h"
#include "leaves/dist/dist.h"
#include "tools/leaves/commands.h"
#include "leaves/engine/process.h"
#include "leaves/version.h"

namespace leaves::cli {

void add_generator_options(CLI::App* cmd, views::GeneratorConfig& g) {
  add_schema_options(cmd, options::generator_schema(), g);
}

}  // namespace leaves::cli

namespace {

// OpenMP threads of a waiting LibTorch or OpenBLAS spin on their core by
// default (libgomp's OMP_WAIT_POLICY unset). Alone that is harmless; beside a
// second leaves process on the same cores the spinning threads take the cores
// from the working ones. libgomp reads the variable once, in its initializer,
// before main: the executable's preinit array runs before any shared
// library's initializer, so the default is set there. A value the user set
// wins. See README "Several processes on one machine" for the measurement.
void passive_openmp_wait(int, char**, char**) { ::setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0); }
__attribute__((section(".preinit_array"), used)) void (*const leaves_preinit)(int, char**, char**) = passive_openmp_wait;

// One line for the terminal: control bytes of echoed input escaped (\xNN), and
// of a LibTorch error only its message, never its C++ frames.
std::string one_line(std::string text) {
  for (const char* marker : {"\nException raised from", "\nframe #", " (no backtrace available)"}) {
    const auto at = text.find(marker);
    if (at != std::string::npos) text.erase(at);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::string out;
  for (unsigned char c : text) {
    if (c == '\n') {
      out += "; ";
    } else if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Levenshtein distance: the typo's nearest command.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

int main(int argc, char** argv) {
  leaves::dist::die_with_launcher();  // first: a worker never outlives its launcher
  leaves::engine::use_all_cores();
  leaves::engine::keep_freed_memory();
  CLI::App app{"leaves: learned views (LEAVES) for self-supervised contrastive learning on time series"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("leaves ") + leaves::kVersion + " (LibTorch " + leaves::compat::torch_version() + ")");
  std::map<std::string, leaves::cli::Action> actions{
      {"views", leaves::cli::add_views_command(app)},
      {"augment", leaves::cli::add_augment_command(app)},
      {"pretrain", leaves::cli::add_pretrain_command(app)},
      {"bench", leaves::cli::add_bench_command(app)},
      {"prepare", leaves::cli::add_prepare_command(app)},
      {"info", leaves::cli::add_info_command(app)},
      {"download", leaves::cli::add_download_command(app)},
      {"finetune", leaves::cli::add_finetune_command(app)},
      {"supervised", leaves::cli::add_supervised_command(app)},
      {"embed", leaves::cli::add_embed_command(app)},
      {"probe", leaves::cli::add_probe_command(app)},
      {"experiment", leaves::cli::add_experiment_command(app)},
      {"benchmark", leaves::cli::add_benchmark_command(app)},
      {"quality", leaves::cli::add_quality_command(app)},
      {"plot", leaves::cli::add_plot_command(app)},
      {"report", leaves::cli::add_report_command(app)},
      {"launch", leaves::cli::add_launch_command(app)},
      {"options", leaves::cli::add_options_command(app)},
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A first word that is no command (a typo: `leaves pretrian`): name it and the nearest command.
    if (argc > 1 && argv[1][0] != '-' && !actions.count(argv[1])) {
      const std::string word = argv[1];
      std::string nearest;
      size_t best = word.size();
      for (const auto& [name, action] : actions) {
        const size_t d = edit_distance(word, name);
        if (d < best) best = d, nearest = name;
      }
      std::cerr << "leaves: error: unknown command '" << one_line(word) << "'"
                << (!nearest.empty() && best <= 3 ? " (did you mean '" + nearest + "'?)" : "")
                << "; the commands are listed by leaves --help\n";
      return 2;
    }
    std::cerr << "leaves: error: " << one_line(e.what()) << " (see leaves --help)\n";
    return 2;
  }
  try {
    for (auto& [name, action] : actions)
      if (app.got_subcommand(name)) return action();
  } catch (const leaves::OptionError& e) {
    // The library names options by key; here they are flags.
    std::cerr << "leaves: error: " << one_line(leaves::options::flag_of(e.key()) + e.rest()) << "\n";
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "leaves: error: " << one_line(e.what()) << "\n";
    return 2;
  } catch (const leaves::dist::CommunicationError& e) {
    std::cerr << "leaves: failed: " << one_line(e.what()) << "\n";
    return leaves::dist::kCommunicationFailureExit;
  } catch (const c10::Error& e) {
    // LibTorch refused something the checks before it let through: its
    // message alone, as one line.
    std::cerr << "leaves: failed: " << one_line(e.what_without_backtrace()) << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "leaves: failed: out of memory (the data, batch or model asked for more than this machine has)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "leaves: failed: " << one_line(e.what()) << "\n";
    return 1;
  }
  return 0;
}
