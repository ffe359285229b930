// Data-parallel training on PyTorch's own distributed layer (c10d): a TCPStore
// rendezvous, then a Gloo process group on the CPU or an NCCL one on CUDA.
//
// The world comes from the environment a launcher sets:
//   torchrun (--no-python): RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
//   Slurm (srun):           SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE,
//                           with MASTER_ADDR (and optionally MASTER_PORT) exported by the batch script
//   `leaves launch --nproc N`: the torchrun variables, on 127.0.0.1.
// Without any of them the run is a single process and nothing here is used.
//
// Every collective is bounded by one timeout: a worker that dies makes the
// others fail at their next collective (Gloo sees the closed connection at
// once; NCCL and a stalled peer hit the timeout), and a rendezvous that never
// completes fails after the timeout, each with a CommunicationError naming the
// rank, the world and what was being done.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace leaves::dist {

/// A collective failed or timed out: a peer died, stalled or never joined.
class CommunicationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The exit status of a `leaves` worker that failed with a CommunicationError:
/// usually the consequence of another worker's failure, so `launch_local`
/// returns another worker's status when there is one.
inline constexpr int kCommunicationFailureExit = 3;

struct WorldInfo {
  int rank = 0, size = 1;              ///< global rank and world size
  int local_rank = 0, local_size = 1;  ///< rank and process count on this machine
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string source = "single";  ///< "single", "torchrun" or "slurm"
  /// LEAVES_DIST=1: a process group even for a world of one (checks a backend).
  bool force = false;
  bool distributed() const { return size > 1 || force; }
  std::string describe() const;  ///< "rank 1 of 4 (local 1 of 2, torchrun, master 10.0.0.1:29500)"
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
/// The process environment (getenv).
std::optional<std::string> process_env(const std::string& name);

/// The world described by the launcher's environment variables. torchrun's
/// variables win over Slurm's; none of them gives a single process.
/// LEAVES_DIST=0 ignores them all; LEAVES_DIST=1 builds a process group even
/// for a world of one (to exercise a backend, e.g. NCCL on one GPU). Throws
/// std::invalid_argument naming the variable for a missing or malformed one, a
/// rank outside [0, world size), or a Slurm world without MASTER_ADDR.
WorldInfo world_from_environment(const EnvLookup& env = process_env);

/// The collectives of one process group. All calls are blocking and bounded by
/// the timeout given at connection; all ranks must make the same calls in the
/// same order with tensors of the same shapes.
class Communicator {
 public:
  /// Rendezvous through a TCPStore at master_addr:master_port (rank 0 hosts
  /// it) and builds the process group: NCCL when `device` is CUDA, Gloo on the
  /// CPU. Throws CommunicationError when the world does not assemble within
  /// `timeout`, std::invalid_argument when this build lacks the backend.
  static std::shared_ptr<Communicator> connect(const WorldInfo& world, const torch::Device& device,
                                               std::chrono::milliseconds timeout);
  virtual ~Communicator() = default;

  int rank() const { return world_.rank; }
  int size() const { return world_.size; }
  const WorldInfo& world() const { return world_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  virtual std::string backend() const = 0;

  /// In place: `t` becomes the sum over ranks.
  virtual void all_reduce_sum(torch::Tensor& t) = 0;
  /// In place: every tensor becomes rank `root`'s.
  virtual void broadcast(std::vector<torch::Tensor>& tensors, int root = 0) = 0;
  /// The ranks' `[n, ...]` tensors stacked along dim 0 in rank order: `[size n, ...]`.
  virtual torch::Tensor all_gather(const torch::Tensor& local) = 0;
  virtual void barrier() = 0;

  /// Averages the gradients of `params` over the ranks (undefined gradients
  /// count as zeros and become defined), flattened into buckets of at most
  /// `bucket_bytes` per dtype and device, all buckets in flight at once.
  void average_gradients(const std::vector<torch::Tensor>& params, int64_t bucket_bytes = 25 << 20);
  /// Copies rank 0's values of `tensors` (parameters, buffers) to every rank.
  void broadcast_from_root(const std::vector<torch::Tensor>& tensors);

 protected:
  Communicator(WorldInfo world, std::chrono::milliseconds timeout) : world_(std::move(world)), timeout_(timeout) {}
  /// Starts an all-reduce (sum) of every tensor; waits for all of them.
  virtual void all_reduce_sum_many(std::vector<torch::Tensor>& tensors) = 0;
  [[noreturn]] void fail(const std::string& what, const std::string& detail) const;

 private:
  WorldInfo world_;
  std::chrono::milliseconds timeout_;
};

/// Differentiable all-gather: `[n, ...]` -> `[size n, ...]` in rank order. The
/// backward pass sums the incoming gradients over the ranks and returns this
/// rank's rows, so that a loss computed on every rank from the gathered tensor
/// back-propagates into each rank's local shard as the sum of all ranks' losses.
torch::Tensor all_gather_with_grad(const torch::Tensor& local, Communicator& comm);
/// Differentiable all-reduce (sum); the backward pass all-reduces the gradient.
torch::Tensor all_reduce_sum_with_grad(const torch::Tensor& local, Communicator& comm);

/// The backends this build carries, e.g. "gloo, nccl" or "none".
std::string available_backends();

/// The seconds a distributed run waits for a peer before it gives up: the
/// environment's LEAVES_DIST_TIMEOUT (seconds), or 300.
std::chrono::milliseconds default_timeout(const EnvLookup& env = process_env);

// ---------------------------------------------------------------------------
// `leaves launch`: N local workers of one command.

struct LaunchOptions {
  int nproc = 2;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;  ///< 0: a free port
  /// After the first worker fails, the others get SIGTERM, then SIGKILL after this.
  std::chrono::milliseconds grace{10000};
};

/// Runs `argv` (argv[0] is the executable) `nproc` times with the torchrun
/// environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
/// MASTER_PORT), waits for all, and returns 0 when all succeed. When one exits
/// non-zero or is killed, the others are stopped and its status is returned
/// (128 + signal for a signal). A first failure with kCommunicationFailureExit
/// is most likely a consequence: the others get up to 2 s (at most `grace`) to
/// end on their own before they are stopped, and the first other status that
/// is neither kCommunicationFailureExit nor the launcher's own SIGTERM/SIGKILL
/// is returned instead. Throws std::runtime_error when a worker
/// cannot be started.
int launch_local(const std::vector<std::string>& argv, const LaunchOptions& options, std::ostream* log);

/// The variable through which launch_local tells its workers its pid.
inline constexpr const char* kLauncherPidVariable = "LEAVES_LAUNCHER_PID";
/// In a worker started by launch_local: the worker is killed when its launcher
/// dies (Linux parent-death signal), even by SIGKILL. Elsewhere, nothing.
void die_with_launcher();

/// A TCP port on `addr` that was free a moment ago.
int free_port(const std::string& addr = "127.0.0.1");

}  // namespace leaves::dist
