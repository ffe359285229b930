// leaves: learned views for contrastive learning on time series.
// Command-line entry: parsing, dispatch, and one clear error line with exit
// code 2 for a bad flag or value.
#include <torch/torch.h>

#include <iostream>

#include "leaves/compat.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

torch::Device parse_device(const std::string& name) {
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const std::exception&) {
    throw std::invalid_argument("--device must be 'cpu', 'cuda' or 'cuda:N', got '" + name + "'");
  }
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw std::invalid_argument("--device " + name + ": this build of LibTorch (" + compat::torch_version() +
                                ") sees no CUDA device");
  }
  return device;
}

}  // namespace leaves::cli

int main(int argc, char** argv) {
  CLI::App app{"leaves: learned views (LEAVES) for self-supervised contrastive learning on time series"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("leaves 0.1.0 (LibTorch ") + leaves::compat::torch_version() + ")");
  leaves::cli::Action views = leaves::cli::add_views_command(app);
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
    if (app.got_subcommand("views")) return views();
  } catch (const std::invalid_argument& e) {
    std::cerr << "leaves: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "leaves: failed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
