// `leaves launch --nproc N -- SUBCOMMAND ...`: starts N workers of this very
// program on this machine with torchrun's environment, and stops them all when
// one fails. Also the shared connection step of the data-parallel subcommands.
#include <torch/torch.h>

#include <unistd.h>

#include <climits>
#include <iostream>

#include "leaves/train/pretrain.h"
#include "tools/leaves/commands.h"

namespace leaves::cli {

std::shared_ptr<dist::Communicator> connect_world(const std::string& device, double timeout_s) {
  const auto world = dist::world_from_environment();
  if (!world.distributed()) return nullptr;
  const auto timeout = timeout_s > 0 ? std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000))
                                     : dist::default_timeout();
  auto d = train::resolve_device(device);
  if (d.is_cuda() && !d.has_index()) d = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(world.local_rank));
  return dist::Communicator::connect(world, d, timeout);
}

namespace {

struct LaunchArgs {
  dist::LaunchOptions options;
  double grace_s = 10;
  std::vector<std::string> command;
};

std::string self_executable() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) throw std::runtime_error("leaves launch: cannot find this program (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

Action add_launch_command(CLI::App& app) {
  auto a = std::make_shared<LaunchArgs>();
  auto* cmd = app.add_subcommand(
      "launch",
      "Run a leaves subcommand as N data-parallel workers on this machine: leaves launch --nproc 2 -- pretrain ...");
  cmd->add_option("--nproc", a->options.nproc, "number of worker processes")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--master-addr", a->options.master_addr, "rendezvous address (IPv4)")->capture_default_str();
  cmd->add_option("--master-port", a->options.master_port, "rendezvous port (0: a free one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--grace", a->grace_s, "seconds between SIGTERM and SIGKILL when stopping workers")
      ->check(kNonNegative)
      ->capture_default_str();
  // Everything after -- is the workers' command line.
  cmd->add_option("command", a->command, "the leaves subcommand and its options, after --");
  return [a] {
    const auto& rest = a->command;
    if (rest.empty()) throw std::invalid_argument("leaves launch: give the subcommand to run, e.g. -- pretrain --out RUN");
    if (rest.front() == "launch") throw std::invalid_argument("leaves launch: the workers cannot launch workers");
    std::vector<std::string> argv{self_executable()};
    argv.insert(argv.end(), rest.begin(), rest.end());
    a->options.grace = std::chrono::milliseconds(static_cast<int64_t>(a->grace_s * 1000));
    return dist::launch_local(argv, a->options, &std::cerr);
  };
}

}  // namespace leaves::cli
