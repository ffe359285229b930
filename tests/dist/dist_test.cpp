// Data-parallel training: the world from the environment, the sharded NT-Xent,
// BatchNorm compatibility, and real 2-process runs over 127.0.0.1 (Gloo).
//
// The multi-process tests start workers by re-running this test binary with
// --gtest_filter=DistWorker.Run and LEAVES_TEST_DIST_ROLE set; the worker
// writes what it computed to a file the parent test compares. The failure tests
// run the `leaves` program itself ($LEAVES_CLI) as workers.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include "leaves/dist/dist.h"
#include "leaves/loss/nt_xent.h"
#include "leaves/nn/batchnorm.h"
#include "leaves/train/pretrain.h"
#include "leaves/views/leaves.h"
#include "testing.h"
#include "train_testing.h"

extern char** environ;

namespace leaves {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

dist::EnvLookup dist_env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(DistWorld, NoLauncherIsOneProcess) {
  auto w = dist::world_from_environment(dist_env_of({}));
  EXPECT_FALSE(w.distributed());
  EXPECT_EQ(w.source, "single");
  EXPECT_FALSE(dist::world_from_environment(dist_env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LEAVES_DIST", "0"}}))
                   .distributed());
}

TEST(DistWorld, TorchrunVariables) {
  auto w = dist::world_from_environment(dist_env_of({{"RANK", "3"},
                                                {"WORLD_SIZE", "4"},
                                                {"LOCAL_RANK", "1"},
                                                {"LOCAL_WORLD_SIZE", "2"},
                                                {"MASTER_ADDR", "10.0.0.7"},
                                                {"MASTER_PORT", "29511"}}));
  EXPECT_EQ(w.rank, 3);
  EXPECT_EQ(w.size, 4);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_size, 2);
  EXPECT_EQ(w.master_addr, "10.0.0.7");
  EXPECT_EQ(w.master_port, 29511);
  EXPECT_EQ(w.source, "torchrun");
}

TEST(DistWorld, SlurmVariables) {
  auto w = dist::world_from_environment(dist_env_of({{"SLURM_PROCID", "5"},
                                                {"SLURM_NTASKS", "8"},
                                                {"SLURM_LOCALID", "1"},
                                                {"SLURM_NTASKS_PER_NODE", "4(x2)"},
                                                {"MASTER_ADDR", "node01"}}));
  EXPECT_EQ(w.rank, 5);
  EXPECT_EQ(w.size, 8);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_size, 4);
  EXPECT_EQ(w.master_port, 29500);
  EXPECT_EQ(w.source, "slurm");
}

TEST(DistWorld, BadWorldsAreClearErrors) {
  auto expect_bad = [](std::map<std::string, std::string> vars, const std::string& mention) {
    testing::expect_invalid_argument([&] { dist::world_from_environment(dist_env_of(vars)); }, mention);
  };
  expect_bad({{"RANK", "0"}}, "WORLD_SIZE is not set");
  expect_bad({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}},
             "rank 2 is outside the world of 2");
  expect_bad({{"RANK", "x"}, {"WORLD_SIZE", "2"}}, "RANK='x' is not a non-negative integer");
  expect_bad({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}, {"MASTER_PORT", "1"}}, "MASTER_ADDR is not set");
  expect_bad({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "70000"}},
             "MASTER_PORT must be in 1..65535");
  expect_bad({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}, "MASTER_ADDR is not set");
  testing::expect_invalid_argument([] { dist::default_timeout(dist_env_of({{"LEAVES_DIST_TIMEOUT", "soon"}})); },
                                   "LEAVES_DIST_TIMEOUT");
  EXPECT_EQ(dist::default_timeout(dist_env_of({{"LEAVES_DIST_TIMEOUT", "2.5"}})), std::chrono::milliseconds(2500));
}

TEST(DistLoss, ShardsOfNtXentAverageToTheWholeLoss) {
  torch::manual_seed(1);
  auto z1 = torch::randn({12, 5}, torch::kDouble).requires_grad_();
  auto z2 = torch::randn({12, 5}, torch::kDouble).requires_grad_();
  auto whole = loss::nt_xent(z1, z2, 0.1);
  auto shards = (loss::nt_xent_rows(z1, z2, 0.1, 0, 4) + loss::nt_xent_rows(z1, z2, 0.1, 4, 4) +
                 loss::nt_xent_rows(z1, z2, 0.1, 8, 4)) /
                3;
  EXPECT_NEAR(whole.item<double>(), shards.item<double>(), 1e-12);
  auto g_whole = torch::autograd::grad({whole}, {z1, z2});
  auto g_shards = torch::autograd::grad({shards}, {z1, z2});
  EXPECT_TRUE(torch::allclose(g_whole[0], g_shards[0], 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(g_whole[1], g_shards[1], 1e-10, 1e-12));
  testing::expect_invalid_argument([&] { loss::nt_xent_rows(z1, z2, 0.1, 10, 4); }, "not within the 12 pairs");
}

TEST(DistBatchNorm, MatchesLibTorchBatchNormAndReadsItsCheckpoints) {
  torch::manual_seed(2);
  torch::nn::BatchNorm1d reference(6);
  nn::BatchNorm1d ours(6);
  {
    torch::NoGradGuard g;
    reference->weight.uniform_(0.5, 1.5);
    reference->bias.uniform_(-1, 1);
  }
  auto file = testing::temp_dir("bn") / "bn.pt";
  fs::create_directories(file.parent_path());
  torch::save(reference, file.string());
  torch::load(ours, file.string());
  auto x = torch::randn({5, 6, 9}) * 3 + 1;
  EXPECT_TRUE(torch::allclose(reference(x), ours(x), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(reference->running_mean, ours->running_mean));
  EXPECT_TRUE(torch::allclose(reference->running_var, ours->running_var));
  // A gather over a world of one: Chan's combination equals the plain statistics.
  nn::BatchNorm1d synced(6);
  torch::load(synced, file.string());
  synced->gather = [](const torch::Tensor& t) { return t; };
  torch::nn::BatchNorm1d fresh(6);
  torch::load(fresh, file.string());
  auto xs = x.clone().requires_grad_();
  auto xf = x.clone().requires_grad_();
  auto ys = synced(xs), yf = fresh(xf);
  EXPECT_TRUE(torch::allclose(ys, yf, 1e-4, 1e-5));
  (ys * ys.detach()).sum().backward();
  (yf * yf.detach()).sum().backward();
  EXPECT_TRUE(torch::allclose(xs.grad(), xf.grad(), 1e-3, 1e-5));
  EXPECT_TRUE(torch::allclose(synced->running_var, fresh->running_var, 1e-5, 1e-6));
  fs::remove_all(file.parent_path());
}

// ---------------------------------------------------------------------------
// Processes.

struct DistChild {
  pid_t pid = -1;
  fs::path log;
};

DistChild dist_spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env,
            const fs::path& log) {
  std::vector<std::string> env;
  const std::vector<std::string> drop{"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                                      "MASTER_PORT", "LEAVES_TEST_DIST_ROLE", "SLURM_PROCID", "SLURM_NTASKS"};
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    if (std::find(drop.begin(), drop.end(), kv.substr(0, kv.find('='))) == drop.end()) env.push_back(kv);
  }
  env.push_back("OMP_NUM_THREADS=1");
  for (const auto& [k, v] : extra_env) env.push_back(k + "=" + v);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (auto& kv : env) envp.push_back(kv.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  DistChild c;
  c.log = log;
  const int rc = posix_spawn(&c.pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  return c;
}

/// Waits up to `limit` for the child; returns its exit code (128 + signal), or
/// -1 (after killing it) when it did not finish in time.
int dist_wait_for(DistChild& c, std::chrono::milliseconds limit) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    int status = 0;
    if (::waitpid(c.pid, &status, WNOHANG) == c.pid) {
      c.pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(c.pid, SIGKILL);
  ::waitpid(c.pid, nullptr, 0);
  c.pid = -1;
  return -1;
}

std::string dist_read_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string dist_self_exe() { return fs::read_symlink("/proc/self/exe").string(); }

std::map<std::string, std::string> dist_world_env(int rank, int size, int port) {
  return {{"RANK", std::to_string(rank)},        {"WORLD_SIZE", std::to_string(size)},
          {"LOCAL_RANK", std::to_string(rank)},  {"LOCAL_WORLD_SIZE", std::to_string(size)},
          {"MASTER_ADDR", "127.0.0.1"},          {"MASTER_PORT", std::to_string(port)}};
}

/// Runs DistWorker.Run as `size` processes with `role`; each writes OUT/rank<r>.pt.
void dist_run_workers(const std::string& role, int size, const fs::path& out, std::map<std::string, std::string> extra = {}) {
  fs::create_directories(out);
  const int port = dist::free_port();
  std::vector<DistChild> kids;
  for (int r = 0; r < size; ++r) {
    auto env = dist_world_env(r, size, port);
    env["LEAVES_TEST_DIST_ROLE"] = role;
    env["LEAVES_TEST_DIST_OUT"] = out.string();
    env["LEAVES_DIST_TIMEOUT"] = "60";
    for (const auto& [k, v] : extra) env[k] = v;
    kids.push_back(dist_spawn({dist_self_exe(), "--gtest_filter=DistWorker.Run"}, env, out / ("rank" + std::to_string(r) + ".log")));
  }
  for (int r = 0; r < size; ++r) {
    const int code = dist_wait_for(kids[r], std::chrono::seconds(120));
    ASSERT_EQ(code, 0) << "worker " << r << " of role " << role << ":\n" << dist_read_text(kids[r].log);
    const auto log = dist_read_text(kids[r].log);
    ASSERT_EQ(log.find("[  SKIPPED ]"), std::string::npos) << log;
    ASSERT_NE(log.find("[  PASSED  ] 1 test"), std::string::npos) << log;
  }
}

std::vector<torch::Tensor> dist_load_tensors(const fs::path& p) {
  std::vector<torch::Tensor> v;
  torch::load(v, p.string());
  return v;
}

// The data and the fixed view randomness of the equivalence test: a global
// batch of 2B rows; rank r owns rows [r B, (r + 1) B).
constexpr int64_t kDistB = 8, kDistL = 64;
torch::Tensor dist_global_batch() {
  torch::manual_seed(5);
  return torch::randn({2 * kDistB, 1, kDistL});
}

train::PretrainConfig dist_equivalence_config() {
  auto c = testing::tiny_pretrain_config("leaves");
  c.batch_size = kDistB;
  c.sync_batchnorm = true;
  c.seed = 3;
  return c;
}

views::LeavesNoise dist_select_rows(const views::LeavesNoise& n, const torch::Tensor& rows) {
  auto pick = [&](const torch::Tensor& t) { return t.defined() ? t.index_select(0, rows) : t; };
  views::LeavesNoise o;
  o.jitter = pick(n.jitter);
  o.scale = pick(n.scale);
  o.magwarp = pick(n.magwarp);
  o.distortion.component_u = pick(n.distortion.component_u);
  o.distortion.eps = pick(n.distortion.eps);
  o.distortion.quantile_u = pick(n.distortion.quantile_u);
  o.permutation.count_u = pick(n.permutation.count_u);
  o.permutation.keys = pick(n.permutation.keys);
  return o;
}

/// Gradients (and loss) of one step on the rows of the global batch that
/// `rank` of `world` owns, with the views' randomness drawn once for the global
/// batch [X; X] and sliced, so that one process and two see the same views.
///
/// The encoder's LeakyReLUs get slope 1 here (the identity). Two ranks and
/// one process round differently (the BatchNorm statistics are combined
/// differently), and a pre-activation within rounding of zero then falls on
/// the other side of the kink: every gradient upstream of it changes by about
/// 1 %, far past the float tolerance below, though both results are right.
/// With this batch it happened for 1 seed in 12 (seen with the convolution
/// biases folded into the BatchNorms, a change of rounding only: slope 1 made
/// the two agree to 2e-5). What this test checks, the gradient averaging and
/// the synchronised BatchNorm, does not depend on the activation.
std::vector<torch::Tensor> dist_equivalence_gradients(train::Pretrainer& t, int rank, int world) {
  t.encoder->options.negative_slope(1.0);
  for (auto& m : t.encoder->body->children()) {
    if (auto* block = dynamic_cast<nn::BasicBlock1dImpl*>(m.get())) block->negative_slope = 1.0;
  }
  auto x = dist_global_batch();
  auto leaves = std::dynamic_pointer_cast<views::LeavesImpl>(t.generator);
  torch::manual_seed(11);
  auto noise = leaves->sample_noise(torch::cat({x, x}, 0));
  const int64_t b = 2 * kDistB / world;
  auto own = torch::arange(rank * b, (rank + 1) * b, torch::kLong);
  auto rows = torch::cat({own, own + 2 * kDistB});
  auto local_noise = dist_select_rows(noise, rows);
  auto loss = t.compute_gradients(x.narrow(0, rank * b, b), [&](const torch::Tensor& both) {
    return leaves->transform(both, local_noise);
  });
  std::vector<torch::Tensor> out{loss.reshape({1})};
  for (const auto& p : t.parameters()) out.push_back(p.grad().clone());
  return out;
}

// The worker side of the multi-process tests; skipped unless started by them.
TEST(DistWorker, Run) {
  const char* role = std::getenv("LEAVES_TEST_DIST_ROLE");
  if (role == nullptr) GTEST_SKIP() << "runs only as a worker started by the DistTwoProcesses tests";
  const fs::path out = std::getenv("LEAVES_TEST_DIST_OUT");
  const auto world = dist::world_from_environment();
  auto comm = dist::Communicator::connect(world, torch::kCPU, dist::default_timeout());
  const std::string r = std::to_string(world.rank);
  if (std::string(role) == "identical" || std::string(role) == "identical-sync") {
    auto c = testing::tiny_pretrain_config("leaves");
    c.sync_batchnorm = std::string(role) == "identical-sync";
    c.seed = 100 + world.rank;  // different seeds: rank 0's initialisation must win anyway
    torch::manual_seed(c.seed);
    train::Pretrainer t(c, 2, comm);
    auto x = torch::randn({c.batch_size, 2, 48});  // each rank its own data and views
    for (int s = 0; s < 4; ++s) t.step(x);
    auto state = t.parameters();
    for (auto& b : t.buffers()) state.push_back(b);
    torch::save(state, (out / ("rank" + r + ".pt")).string());
  } else if (std::string(role) == "equivalence") {
    torch::manual_seed(dist_equivalence_config().seed);
    train::Pretrainer t(dist_equivalence_config(), 1, comm);
    auto grads = dist_equivalence_gradients(t, world.rank, world.size);
    torch::save(grads, (out / ("rank" + r + ".pt")).string());
  } else {
    FAIL() << "unknown role " << role;
  }
  comm->barrier();
}

TEST(DistTwoProcesses, RanksHoldBitIdenticalParametersAfterSteps) {
  for (const std::string role : {"identical", "identical-sync"}) {
    SCOPED_TRACE(role);
    auto out = testing::temp_dir("dist-" + role);
    dist_run_workers(role, 2, out);
    auto a = dist_load_tensors(out / "rank0.pt"), b = dist_load_tensors(out / "rank1.pt");
    ASSERT_EQ(a.size(), b.size());
    ASSERT_GT(a.size(), 60u);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "tensor " << i;
    // The steps did something: rank 0's parameters left a fresh initialisation with its seed.
    auto c = testing::tiny_pretrain_config("leaves");
    torch::manual_seed(100);
    train::Pretrainer fresh(c, 2);
    EXPECT_FALSE(torch::equal(fresh.parameters()[0], a[0]));
    fs::remove_all(out);
  }
}

TEST(DistTwoProcesses, TwoRanksOfBatchBMatchOneProcessOfBatch2B) {
  auto out = testing::temp_dir("dist-equivalence");
  dist_run_workers("equivalence", 2, out);
  auto r0 = dist_load_tensors(out / "rank0.pt"), r1 = dist_load_tensors(out / "rank1.pt");
  torch::manual_seed(dist_equivalence_config().seed);
  auto single_config = dist_equivalence_config();
  single_config.sync_batchnorm = false;  // one process: plain BatchNorm over the whole batch
  train::Pretrainer single(single_config, 1);
  auto ref = dist_equivalence_gradients(single, 0, 1);
  ASSERT_EQ(ref.size(), r0.size());
  // The loss: the mean of the ranks' shards is the single-process loss.
  EXPECT_NEAR((r0[0] + r1[0]).item<double>() / 2, ref[0].item<double>(), 1e-5);
  // Gradients: identical on both ranks (averaged), and equal to one process's
  // to float32 accuracy. Tolerance per tensor: max |g_2 - g_1| <= 2e-3 max |g_1|
  // + 1e-5 G, G the largest gradient entry of the model (the biases of the
  // convolutions before a BatchNorm have a true gradient of 0: float noise).
  double global = 0, worst = 0;
  for (size_t i = 1; i < ref.size(); ++i) global = std::max(global, ref[i].abs().max().item<double>());
  int generator_checked = 0;
  const auto n_gen = single.generator->parameters().size();
  for (size_t i = 1; i < ref.size(); ++i) {
    EXPECT_TRUE(torch::equal(r0[i], r1[i])) << "gradient " << i << " differs between ranks";
    const double scale = ref[i].abs().max().item<double>();
    const double err = (r0[i] - ref[i]).abs().max().item<double>();
    EXPECT_LE(err, 2e-3 * scale + 1e-5 * global) << "gradient " << i << " scale " << scale;
    if (scale > 1e-3 * global) worst = std::max(worst, err / scale);
    if (i >= ref.size() - n_gen) generator_checked += scale > 1e-3 * global;
  }
  std::cout << "largest gradient " << global << "; worst relative difference of the tensors above 1e-3 of it: " << worst
            << "\n";
  EXPECT_GT(generator_checked, 3) << "the generator's gradients should be compared too";
  fs::remove_all(out);
}

// ---------------------------------------------------------------------------
// Failures: the `leaves` program as workers.

std::string dist_cli() {
  const char* c = std::getenv("LEAVES_CLI");
  return c ? std::string(c) : std::string();
}

TEST(DistFailures, KillingOneRankMakesTheOtherExitWithinTheTimeout) {
  if (dist_cli().empty()) GTEST_SKIP() << "LEAVES_CLI is not set (run through ctest)";
  auto dir = testing::temp_dir("dist-kill");
  fs::create_directories(dir);
  const int port = dist::free_port();
  const int timeout_s = 20;
  std::vector<DistChild> kids;
  for (int r = 0; r < 2; ++r) {
    kids.push_back(dist_spawn({dist_cli(), "pretrain", "--data", "synthetic:size=80,length=64", "--epochs", "100000",
                          "--batch-size", "8", "--width", "4", "--dist-timeout", std::to_string(timeout_s), "--out",
                          (dir / "run").string()},
                         dist_world_env(r, 2, port), dir / ("rank" + std::to_string(r) + ".log")));
  }
  // Wait until the two are training (rank 0 has written a first epoch).
  const auto start = Clock::now();
  while (!fs::exists(dir / "run" / "checkpoints" / "last.pt") && Clock::now() - start < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(dir / "run" / "checkpoints" / "last.pt")) << dist_read_text(dir / "rank0.log");
  ::kill(kids[1].pid, SIGKILL);
  const auto killed = Clock::now();
  dist_wait_for(kids[1], std::chrono::seconds(5));
  const int code = dist_wait_for(kids[0], std::chrono::seconds(timeout_s + 10));
  const double took = std::chrono::duration<double>(Clock::now() - killed).count();
  const auto log = dist_read_text(dir / "rank0.log");
  EXPECT_NE(code, -1) << "rank 0 hung after its peer died";
  EXPECT_EQ(code, dist::kCommunicationFailureExit) << log;
  EXPECT_LE(took, timeout_s + 1.0);
  EXPECT_NE(log.find("distributed"), std::string::npos) << log;
  EXPECT_NE(log.find("rank 0 of 2"), std::string::npos) << log;
  std::cout << "rank 0 exited " << took << " s after rank 1 was killed (code " << code << ")\n";
  fs::remove_all(dir);
}

TEST(DistFailures, ARendezvousThatNeverCompletesFailsAfterTheTimeout) {
  if (dist_cli().empty()) GTEST_SKIP() << "LEAVES_CLI is not set (run through ctest)";
  auto dir = testing::temp_dir("dist-alone");
  fs::create_directories(dir);
  const auto start = Clock::now();
  auto kid = dist_spawn({dist_cli(), "pretrain", "--data", "synthetic:size=80,length=64", "--epochs", "1", "--width", "4",
                    "--batch-size", "8", "--dist-timeout", "3", "--out", (dir / "run").string()},
                   dist_world_env(0, 2, dist::free_port()), dir / "rank0.log");
  const int code = dist_wait_for(kid, std::chrono::seconds(30));
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  const auto log = dist_read_text(dir / "rank0.log");
  EXPECT_EQ(code, dist::kCommunicationFailureExit) << log;
  EXPECT_GE(took, 2.5);
  EXPECT_LE(took, 15.0);
  EXPECT_NE(log.find("rendezvous"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(dir / "run" / "config.json")) << "nothing may be written before the world assembled";
  fs::remove_all(dir);
}

// The launcher returns the status of the worker whose failure caused the
// others' (exit 3: a failed collective or rendezvous), even when a consequence
// ends first; a worker stopped by the launcher (SIGTERM) does not count; with
// only communication failures it returns 3.
TEST(DistLaunch, ReturnsTheCauseNotItsConsequence) {
  auto run = [](const std::string& script) {
    dist::LaunchOptions o;
    o.nproc = 3;
    o.master_port = 29999;  // unused: the workers are shell scripts
    std::ostringstream log;
    const int code = dist::launch_local({"/bin/sh", "-c", script}, o, &log);
    return std::make_pair(code, log.str());
  };
  // Rank 1 fails communicating at once, rank 0 (the cause) 0.3 s later, rank 2 would run on (exec:
  // the worker is the sleep itself, so that the launcher's kill leaves no child holding the test's output).
  auto [code, log] = run("case $RANK in 1) exit 3;; 0) sleep 0.3; exit 2;; *) exec sleep 30;; esac");
  EXPECT_EQ(code, 2) << log;
  EXPECT_NE(log.find("worker 0 exited with status 2 (its failure caused the others')"), std::string::npos) << log;
  std::tie(code, log) = run("case $RANK in 0) exit 3;; *) exec sleep 30;; esac");
  EXPECT_EQ(code, 3) << log;
  std::tie(code, log) = run("case $RANK in 2) exit 1;; *) exec sleep 30;; esac");
  EXPECT_EQ(code, 1) << log;
}

}  // namespace
}  // namespace leaves
