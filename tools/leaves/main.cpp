// leaves: learned views for contrastive learning on time series.
// Command-line entry: parsing, dispatch, and one clear error line with exit
// code 2 for a bad flag or value.
#include <torch/torch.h>

#include <iostream>
#include <map>

#include "leaves/compat.h"
#include "leaves/dist/dist.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

void add_generator_options(CLI::App* cmd, views::GeneratorConfig& g) {
  cmd->add_option("--eta", g.eta, "LEAVES: bound of the magnitude sigmas")->capture_default_str();
  cmd->add_option("--mixture-components", g.mixture_components, "LEAVES: time-distortion components M")
      ->capture_default_str();
  cmd->add_option("--max-segments", g.max_segments, "permutation: maximum segments K")->capture_default_str();
  cmd->add_option("--knots", g.knots, "magnitude/time warp knots")->capture_default_str();
  cmd->add_option("--interpolation", g.interpolation, "warp curves: linear | cubic")
      ->check(CLI::IsMember({"linear", "cubic"}))
      ->capture_default_str();
  cmd->add_option("--perm-estimator", g.perm_estimator, "LEAVES: relaxed | straight-through")
      ->check(CLI::IsMember({"relaxed", "straight-through"}))
      ->capture_default_str();
  cmd->add_flag("--per-channel", g.per_channel, "one time warp / distortion per channel instead of per sample");
  cmd->add_flag("--normalize", g.normalize, "LEAVES: min-max normalise each view channel to [0, 1]");
  cmd->add_option("--sigma", g.sigma, "random baseline (simclr): shared sigma of T(sigma)")->capture_default_str();
  cmd->add_option("--budget", g.budget, "ViewMaker: L1 distortion budget")->capture_default_str();
}

}  // namespace leaves::cli

int main(int argc, char** argv) {
  leaves::compat::use_all_cores();
  leaves::compat::keep_freed_memory();
  CLI::App app{"leaves: learned views (LEAVES) for self-supervised contrastive learning on time series"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("leaves 0.1.0 (LibTorch ") + leaves::compat::torch_version() + ")");
  std::map<std::string, leaves::cli::Action> actions{
      {"views", leaves::cli::add_views_command(app)},
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
      {"quality", leaves::cli::add_quality_command(app)},
      {"plot", leaves::cli::add_plot_command(app)},
      {"report", leaves::cli::add_report_command(app)},
      {"launch", leaves::cli::add_launch_command(app)},
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
    std::cerr << "leaves: error: " << e.what() << " (see leaves --help)\n";
    return 2;
  }
  try {
    for (auto& [name, action] : actions)
      if (app.got_subcommand(name)) return action();
  } catch (const std::invalid_argument& e) {
    std::cerr << "leaves: error: " << e.what() << "\n";
    return 2;
  } catch (const leaves::dist::CommunicationError& e) {
    std::cerr << "leaves: failed: " << e.what() << "\n";
    return leaves::dist::kCommunicationFailureExit;
  } catch (const std::exception& e) {
    std::cerr << "leaves: failed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
