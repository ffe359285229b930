#include "leaves/dist/dist.h"
#include "leaves/option_error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <sstream>
#include <thread>

#include "leaves/compat.h"

// c10d ships with LibTorch; its Gloo backend needs Gloo's headers (Debian:
// libgloo-dev), its NCCL backend a CUDA build. CMake defines these when found.
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(LEAVES_WITH_GLOO)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(LEAVES_WITH_NCCL)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

extern char** environ;

namespace leaves::dist {

std::string WorldInfo::describe() const {
  std::ostringstream s;
  s << "rank " << rank << " of " << size << " (local " << local_rank << " of " << local_size << ", " << source
    << ", master " << master_addr << ":" << master_port << ")";
  return s.str();
}

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

namespace {

/// The number at the start of `text` (all of it unless `prefix_only`), or nothing.
template <class T>
std::optional<T> parse_number(const std::string& text, bool prefix_only = false) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || (ptr != end && !prefix_only)) return std::nullopt;
  return value;
}

int env_int(const EnvLookup& env, const std::string& name, std::optional<int> fallback, const std::string& hint) {
  auto v = env(name);
  if (!v) {
    if (fallback) return *fallback;
    throw std::invalid_argument("distributed launch: " + name + " is not set (" + hint + ")");
  }
  // Slurm writes SLURM_NTASKS_PER_NODE as e.g. "4" or "4(x2)": the leading count.
  const auto value = parse_number<int>(*v, name == "SLURM_NTASKS_PER_NODE");
  if (!value || *value < 0 || *value > (1 << 30)) {
    throw std::invalid_argument("distributed launch: " + name + "='" + *v + "' is not a non-negative integer");
  }
  return *value;
}

}  // namespace

WorldInfo world_from_environment(const EnvLookup& env) {
  WorldInfo w;
  const auto mode = env("LEAVES_DIST");
  if (mode && (*mode == "0" || *mode == "off")) return w;
  if (mode && !mode->empty() && *mode != "1" && *mode != "on") {
    throw std::invalid_argument("LEAVES_DIST='" + *mode + "' must be 0 (single process) or 1 (always a process group)");
  }
  w.force = mode && (*mode == "1" || *mode == "on");
  const char* torchrun = "torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT";
  const char* slurm =
      "under Slurm export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1) "
      "before srun; LEAVES_DIST=0 runs a single process";
  if (env("RANK") || env("WORLD_SIZE")) {
    w.source = "torchrun";
    w.rank = env_int(env, "RANK", std::nullopt, torchrun);
    w.size = env_int(env, "WORLD_SIZE", std::nullopt, torchrun);
    w.local_rank = env_int(env, "LOCAL_RANK", w.size == 1 ? std::optional<int>(0) : std::nullopt, torchrun);
    w.local_size = env_int(env, "LOCAL_WORLD_SIZE", w.size, torchrun);
    if (w.size > 1) {
      auto addr = env("MASTER_ADDR");
      if (!addr || addr->empty()) throw std::invalid_argument(std::string("distributed launch: MASTER_ADDR is not set (") + torchrun + ")");
      w.master_addr = *addr;
      w.master_port = env_int(env, "MASTER_PORT", std::nullopt, torchrun);
    }
  } else if (env("SLURM_PROCID") && env("SLURM_NTASKS")) {
    w.source = "slurm";
    w.rank = env_int(env, "SLURM_PROCID", std::nullopt, slurm);
    w.size = env_int(env, "SLURM_NTASKS", std::nullopt, slurm);
    w.local_rank = env_int(env, "SLURM_LOCALID", 0, slurm);
    w.local_size = env_int(env, "SLURM_NTASKS_PER_NODE", w.size, slurm);
    if (w.size > 1) {
      auto addr = env("MASTER_ADDR");
      if (!addr || addr->empty()) throw std::invalid_argument(std::string("distributed launch: MASTER_ADDR is not set (") + slurm + ")");
      w.master_addr = *addr;
      w.master_port = env_int(env, "MASTER_PORT", 29500, slurm);
    }
  } else if (w.force) {
    w.source = "forced";
    w.master_port = env_int(env, "MASTER_PORT", 29500, "LEAVES_DIST=1 alone starts a world of one");
    if (auto addr = env("MASTER_ADDR")) w.master_addr = *addr;
  } else {
    return w;
  }
  if (w.size < 1) throw std::invalid_argument("distributed launch: the world size must be >= 1, got " + std::to_string(w.size));
  if (w.rank >= w.size) {
    throw std::invalid_argument("distributed launch: rank " + std::to_string(w.rank) + " is outside the world of " +
                                std::to_string(w.size) + " processes (ranks 0.." + std::to_string(w.size - 1) + ")");
  }
  if (w.local_size < 1 || w.local_rank >= w.local_size) {
    throw std::invalid_argument("distributed launch: local rank " + std::to_string(w.local_rank) +
                                " is outside the " + std::to_string(w.local_size) + " processes of this machine");
  }
  if (w.force && w.size == 1 && w.rank == 0) return w;  // its own store: any port
  if (w.master_port < 1 || w.master_port > 65535) {
    throw std::invalid_argument("distributed launch: MASTER_PORT must be in 1..65535, got " + std::to_string(w.master_port));
  }
  return w;
}

std::chrono::milliseconds default_timeout(const EnvLookup& env) {
  auto v = env("LEAVES_DIST_TIMEOUT");
  if (!v) return std::chrono::seconds(300);
  const auto s = parse_number<double>(*v);
  if (!s || !(*s > 0) || *s > 86400) {
    throw std::invalid_argument("LEAVES_DIST_TIMEOUT='" + *v + "' must be a number of seconds in (0, 86400]");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(*s * 1000));
}

std::string available_backends() {
  std::string s;
#if defined(LEAVES_WITH_GLOO)
  s += "gloo";
#endif
#if defined(LEAVES_WITH_NCCL)
  s += s.empty() ? "nccl" : ", nccl";
#endif
  return s.empty() ? "none" : s;
}

// ---------------------------------------------------------------------------

void Communicator::fail(const std::string& what, const std::string& detail) const {
  std::ostringstream s;
  s << "distributed " << what << " failed on " << world_.describe() << ": " << detail
    << " (a worker has probably died, stalled, or never started; the timeout is "
    << std::chrono::duration<double>(timeout_).count() << " s, LEAVES_DIST_TIMEOUT)";
  throw CommunicationError(s.str());
}

void Communicator::average_gradients(const std::vector<torch::Tensor>& params, int64_t bucket_bytes) {
  std::vector<torch::Tensor> grads;
  grads.reserve(params.size());
  for (auto p : params) {  // a handle: its gradient is the parameter's
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  // Consecutive gradients of one dtype and device share a bucket up to bucket_bytes.
  std::vector<std::vector<size_t>> buckets;
  int64_t bytes = 0;
  for (size_t i = 0; i < grads.size(); ++i) {
    const auto& g = grads[i];
    const int64_t b = g.numel() * static_cast<int64_t>(g.element_size());
    const bool fits = !buckets.empty() && bytes + b <= bucket_bytes &&
                      grads[buckets.back().front()].scalar_type() == g.scalar_type() &&
                      grads[buckets.back().front()].device() == g.device();
    if (!fits) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(i);
    bytes += b;
  }
  std::vector<torch::Tensor> flats;
  flats.reserve(buckets.size());
  for (const auto& bucket : buckets) {
    std::vector<torch::Tensor> parts;
    for (size_t i : bucket) parts.push_back(grads[i].reshape({-1}));
    flats.push_back(torch::cat(parts));
  }
  all_reduce_sum_many(flats);
  for (size_t k = 0; k < buckets.size(); ++k) {
    flats[k].div_(size());
    int64_t offset = 0;
    for (size_t i : buckets[k]) {
      auto& g = grads[i];
      g.copy_(flats[k].narrow(0, offset, g.numel()).view_as(g));
      offset += g.numel();
    }
  }
}

void Communicator::broadcast_from_root(const std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return;
  // One flat buffer per dtype and device: a handful of collectives.
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < tensors.size(); ++i) {
    bool placed = false;
    for (auto& g : groups) {
      const auto& first = tensors[g.front()];
      if (first.scalar_type() == tensors[i].scalar_type() && first.device() == tensors[i].device()) {
        g.push_back(i);
        placed = true;
        break;
      }
    }
    if (!placed) groups.push_back({i});
  }
  torch::NoGradGuard no_grad;
  for (const auto& g : groups) {
    std::vector<torch::Tensor> parts;
    for (size_t i : g) parts.push_back(tensors[i].reshape({-1}));
    std::vector<torch::Tensor> flat{torch::cat(parts)};
    broadcast(flat, 0);
    int64_t offset = 0;
    for (size_t i : g) {
      auto t = tensors[i];
      t.copy_(flat[0].narrow(0, offset, t.numel()).view_as(t));
      offset += t.numel();
    }
  }
}

namespace {

// One implementation for every c10d process group type: LibTorch 1.13's derive
// from c10d::ProcessGroup, 2.x's from c10d::Backend, with the same collectives.
template <class PG>
class C10dCommunicator : public Communicator {
 public:
  C10dCommunicator(WorldInfo world, std::chrono::milliseconds timeout, c10::intrusive_ptr<c10d::Store> store,
                   c10::intrusive_ptr<PG> pg, std::string name)
      : Communicator(std::move(world), timeout), store_(std::move(store)), pg_(std::move(pg)), name_(std::move(name)) {}

  std::string backend() const override { return name_; }

  void all_reduce_sum(torch::Tensor& t) override {
    std::vector<torch::Tensor> v{t};
    all_reduce_sum_many(v);
  }

  void broadcast(std::vector<torch::Tensor>& tensors, int root) override {
    for (auto& t : tensors) {
      std::vector<torch::Tensor> v{t};
      c10d::BroadcastOptions o;
      o.rootRank = root;
      run("broadcast", [&] { return pg_->broadcast(v, o); });
    }
  }

  torch::Tensor all_gather(const torch::Tensor& local) override {
    auto in = local.contiguous();
    std::vector<std::vector<torch::Tensor>> out(1);
    for (int r = 0; r < size(); ++r) out[0].push_back(torch::empty_like(in));
    std::vector<torch::Tensor> inputs{in};
    run("all-gather", [&] { return pg_->allgather(out, inputs); });
    return torch::cat(out[0], 0);
  }

  void barrier() override {
    run("barrier", [&] { return pg_->barrier(); });
  }

 protected:
  void all_reduce_sum_many(std::vector<torch::Tensor>& tensors) override {
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    std::vector<std::vector<torch::Tensor>> holders;
    holders.reserve(tensors.size());
    try {
      for (auto& t : tensors) {
        holders.push_back({t});
        works.push_back(pg_->allreduce(holders.back()));
      }
    } catch (const std::exception& e) {
      fail("all-reduce", e.what());
    }
    for (auto& w : works) wait(w, "all-reduce");
  }

 private:
  template <class F>
  void run(const char* what, F&& start) {
    c10::intrusive_ptr<c10d::Work> w;
    try {
      w = start();
    } catch (const std::exception& e) {
      fail(what, e.what());
    }
    wait(w, what);
  }

  void wait(const c10::intrusive_ptr<c10d::Work>& w, const char* what) {
    try {
      if (!w->wait(timeout())) fail(what, "timed out");
    } catch (const CommunicationError&) {
      throw;
    } catch (const std::exception& e) {
      fail(what, e.what());
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<PG> pg_;
  std::string name_;
};

bool is_loopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

}  // namespace

std::shared_ptr<Communicator> Communicator::connect(const WorldInfo& world, const torch::Device& device,
                                                    std::chrono::milliseconds timeout) {
  const std::string where = world.master_addr + ":" + std::to_string(world.master_port);
  auto rendezvous_error = [&](const std::string& detail) {
    std::ostringstream s;
    s << "distributed rendezvous at " << where << " did not complete for " << world.describe() << " within "
      << std::chrono::duration<double>(timeout).count() << " s (LEAVES_DIST_TIMEOUT): " << detail
      << " (are all " << world.size << " workers started, with the same MASTER_ADDR and MASTER_PORT?)";
    return CommunicationError(s.str());
  };
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(world.master_port);
    o.isServer = world.rank == 0;
    o.numWorkers = world.size;
    o.waitWorkers = false;  // the process group's own rendezvous waits, bounded by the timeout
    o.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, o);
  } catch (const std::exception& e) {
    throw rendezvous_error(std::string("TCPStore: ") + e.what());
  }
  if (device.is_cuda()) {
#if defined(LEAVES_WITH_NCCL)
    try {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, world.rank, world.size, options);
      return std::make_shared<C10dCommunicator<c10d::ProcessGroupNCCL>>(world, timeout, store, pg, "nccl");
    } catch (const std::exception& e) {
      throw rendezvous_error(std::string("NCCL: ") + e.what());
    }
#else
    throw OptionError("device", " " + device.str() + " with " + std::to_string(world.size) +
                                " workers needs NCCL, which this build lacks (backends: " + available_backends() + ")");
#endif
  }
#if defined(LEAVES_WITH_GLOO)
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    if (auto ifname = process_env("GLOO_SOCKET_IFNAME"); ifname && !ifname->empty()) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(*ifname));
    } else if (is_loopback(world.master_addr)) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    options->threads = 2;
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, world.rank, world.size, options);
    return std::make_shared<C10dCommunicator<c10d::ProcessGroupGloo>>(world, timeout, store, pg, "gloo");
  } catch (const std::exception& e) {
    throw rendezvous_error(std::string("Gloo: ") + e.what());
  }
#else
  throw std::invalid_argument("a CPU run with " + std::to_string(world.size) +
                              " workers needs Gloo, which this build lacks (backends: " + available_backends() + ")");
#endif
}

// ---------------------------------------------------------------------------
// Differentiable collectives. The communicator outlives the step whose graph
// holds it, so the backward pass finds it through a pointer kept in the context.

namespace {

Communicator* comm_of(torch::autograd::AutogradContext* ctx) {
  return reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt());
}

struct AllGatherFunction : public torch::autograd::Function<AllGatherFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& local, Communicator* comm) {
    ctx->saved_data["comm"] = reinterpret_cast<int64_t>(comm);
    ctx->saved_data["rows"] = local.size(0);
    return comm->all_gather(local);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* comm = comm_of(ctx);
    const int64_t rows = ctx->saved_data["rows"].toInt();
    auto g = grads[0].contiguous().clone();
    comm->all_reduce_sum(g);
    return {g.narrow(0, comm->rank() * rows, rows), torch::Tensor()};
  }
};

struct AllReduceFunction : public torch::autograd::Function<AllReduceFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& local, Communicator* comm) {
    ctx->saved_data["comm"] = reinterpret_cast<int64_t>(comm);
    auto out = local.contiguous().clone();
    comm->all_reduce_sum(out);
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto g = grads[0].contiguous().clone();
    comm_of(ctx)->all_reduce_sum(g);
    return {g, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor all_gather_with_grad(const torch::Tensor& local, Communicator& comm) {
  return AllGatherFunction::apply(local, &comm);
}

torch::Tensor all_reduce_sum_with_grad(const torch::Tensor& local, Communicator& comm) {
  return AllReduceFunction::apply(local, &comm);
}

// ---------------------------------------------------------------------------
// leaves launch

int free_port(const std::string& addr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("leaves launch: socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  if (::inet_pton(AF_INET, addr == "localhost" ? "127.0.0.1" : addr.c_str(), &a.sin_addr) != 1) {
    ::close(fd);
    throw OptionError("master_addr", " must be an IPv4 address for a local launch, got '" + addr + "'");
  }
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("leaves launch: no free port on " + addr + ": " + err);
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

namespace {

volatile sig_atomic_t g_launch_signal = 0;
void on_launch_signal(int sig) { g_launch_signal = sig; }

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "stopped";
}

}  // namespace

void die_with_launcher() {
  const char* v = std::getenv(kLauncherPidVariable);
  if (v == nullptr || *v == '\0') return;
  char* end = nullptr;
  const long launcher = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || launcher <= 1) return;
  // The kernel kills this worker when the thread that spawned it ends: a
  // launcher killed with SIGKILL leaves no orphan training into --out.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != static_cast<pid_t>(launcher)) _exit(128 + SIGKILL);  // it died before prctl
}

namespace {

/// The parent's environment without any launcher variables; OMP_NUM_THREADS
/// shares the cores among the workers unless the user chose a thread count (as torchrun).
std::vector<std::string> worker_environment(int nproc) {
  const std::vector<std::string> drop{"RANK",   "WORLD_SIZE",    "LOCAL_RANK",  "LOCAL_WORLD_SIZE",
                                      "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID",
                                      "SLURM_NTASKS", "SLURM_LOCALID", "LEAVES_DIST"};
  std::vector<std::string> base;
  bool omp_set = false;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv(*e);
    const std::string key = kv.substr(0, kv.find('='));
    if (std::find(drop.begin(), drop.end(), key) != drop.end()) continue;
    if (key == "OMP_NUM_THREADS") omp_set = true;
    base.push_back(kv);
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (!omp_set) base.push_back("OMP_NUM_THREADS=" + std::to_string(std::max(1u, cores / static_cast<unsigned>(nproc))));
  return base;
}

void send_all(const std::vector<pid_t>& pids, int sig) {
  for (pid_t p : pids)
    if (p > 0) ::kill(p, sig);
}

/// Starts worker r = 0 .. nproc - 1 with its world in the environment; on a
/// failure kills and reaps those started and throws.
std::vector<pid_t> spawn_workers(const std::vector<std::string>& argv, const LaunchOptions& options, int port,
                                 const std::vector<std::string>& base) {
  std::vector<pid_t> pids;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (int r = 0; r < options.nproc; ++r) {
    std::vector<std::string> env = base;
    for (const auto& kv : {"RANK=" + std::to_string(r), "WORLD_SIZE=" + std::to_string(options.nproc),
                           "LOCAL_RANK=" + std::to_string(r), "LOCAL_WORLD_SIZE=" + std::to_string(options.nproc),
                           "MASTER_ADDR=" + options.master_addr, "MASTER_PORT=" + std::to_string(port),
                           std::string(kLauncherPidVariable) + "=" + std::to_string(::getpid())})
      env.push_back(kv);
    std::vector<char*> envp;
    for (auto& kv : env) envp.push_back(kv.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), envp.data());
    if (rc != 0) {
      send_all(pids, SIGKILL);
      for (pid_t p : pids) ::waitpid(p, nullptr, 0);
      throw std::runtime_error("leaves launch: cannot start " + argv[0] + ": " + std::strerror(rc));
    }
    pids.push_back(pid);
  }
  return pids;
}

/// How the workers ended.
struct Outcome {
  int result = 0;                             ///< the first failure's status, or 128 + a forwarded signal
  std::vector<std::pair<int, int>> failures;  ///< rank, exit code, in the order the workers ended
};

/// Waits for every worker. The first failure stops the others (SIGTERM, then
/// SIGKILL after the grace period); a worker that failed communicating is
/// most likely the consequence of another's failure, which gets a moment to
/// end with its own status first. SIGINT and SIGTERM are forwarded.
Outcome supervise(std::vector<pid_t>& pids, const LaunchOptions& options, std::ostream* log) {
  Outcome out;
  int running = options.nproc;
  bool stopping = false;
  auto stop_at = std::chrono::steady_clock::time_point::max();  // when the others get SIGTERM
  auto stop_deadline = std::chrono::steady_clock::time_point::max();
  while (running > 0) {
    int status = 0;
    const pid_t done = ::waitpid(-1, &status, WNOHANG);
    if (done > 0) {
      auto it = std::find(pids.begin(), pids.end(), done);
      if (it == pids.end()) continue;
      const int rank = static_cast<int>(it - pids.begin());
      *it = -1;
      --running;
      const int code = exit_code(status);
      if (code != 0) {
        out.failures.emplace_back(rank, code);
        if (out.result == 0) {
          out.result = code;
          if (log) *log << "leaves launch: worker " << rank << " " << describe_status(status) << "; stopping the others\n" << std::flush;
        }
        const auto wait = code == kCommunicationFailureExit
                              ? std::min<std::chrono::milliseconds>(options.grace, std::chrono::seconds(2))
                              : std::chrono::milliseconds(0);
        stop_at = std::min(stop_at, std::chrono::steady_clock::now() + wait);
      }
    } else if (done < 0 && errno != EINTR) {
      break;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!stopping && (g_launch_signal != 0 || (out.result != 0 && std::chrono::steady_clock::now() >= stop_at))) {
      stopping = true;
      if (out.result == 0) out.result = 128 + g_launch_signal;
      send_all(pids, g_launch_signal != 0 ? g_launch_signal : SIGTERM);
      stop_deadline = std::chrono::steady_clock::now() + options.grace;
    }
    if (stopping && std::chrono::steady_clock::now() > stop_deadline) {
      send_all(pids, SIGKILL);
      stop_deadline = std::chrono::steady_clock::time_point::max();
    }
  }
  return out;
}

/// A worker that failed on its own (bad input, an error of its own) is the
/// cause; the others then fail at their next collective (exit 3) or are
/// stopped. A worker that failed communicating can end first (the peer is
/// still tearing down), so its status gives way to the cause's.
int status_of_the_cause(const Outcome& out, std::ostream* log) {
  if (g_launch_signal != 0 || out.failures.empty() || out.failures.front().second != kCommunicationFailureExit) {
    return out.result;
  }
  for (const auto& [rank, code] : out.failures) {
    if (code == kCommunicationFailureExit || code == 128 + SIGTERM || code == 128 + SIGKILL) continue;  // stopped here
    if (log) *log << "leaves launch: worker " << rank << " exited with status " << code
                  << " (its failure caused the others'); returning it\n" << std::flush;
    return code;
  }
  return out.result;
}

}  // namespace

int launch_local(const std::vector<std::string>& argv, const LaunchOptions& options, std::ostream* log) {
  if (argv.empty()) throw std::invalid_argument("leaves launch: no command to run");
  if (options.nproc < 1) throw OptionError("nproc", " must be >= 1, got " + std::to_string(options.nproc));
  const int port = options.master_port > 0 ? options.master_port : free_port(options.master_addr);
  const auto base = worker_environment(options.nproc);

  struct sigaction sa {}, old_int{}, old_term{};
  sa.sa_handler = on_launch_signal;
  sigemptyset(&sa.sa_mask);
  g_launch_signal = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  auto restore_signals = [&] {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
  };
  std::vector<pid_t> pids;
  try {
    pids = spawn_workers(argv, options, port, base);
  } catch (...) {
    restore_signals();
    throw;
  }
  if (log) *log << "leaves launch: " << options.nproc << " workers, master " << options.master_addr << ":" << port << "\n" << std::flush;
  const auto outcome = supervise(pids, options, log);
  restore_signals();
  return status_of_the_cause(outcome, log);
}

}  // namespace leaves::dist
