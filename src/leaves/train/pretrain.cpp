#include "leaves/train/pretrain.h"
#include "leaves/option_error.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <tuple>

#include "leaves/compat.h"
#include "leaves/data/spec.h"
#include "leaves/loss/nt_xent.h"
#include "leaves/io/output.h"
#include "leaves/train/options.h"

namespace leaves::train {

namespace fs = std::filesystem;
using nlohmann::json;

std::string generator_kind(const std::string& method) {
  if (method == "leaves") return "leaves";
  if (method == "simclr") return "random";
  if (method == "viewmaker") return "viewmaker";
  throw options::OptionError("method", " must be leaves, simclr or viewmaker, got '" + method + "'");
}

torch::Device resolve_device(const std::string& name) {
  std::unique_ptr<torch::Device> device;
  try {
    device = std::make_unique<torch::Device>(name);
  } catch (const std::exception&) {
    throw options::OptionError("device", " must be 'cpu', 'cuda' or 'cuda:N', got '" + name + "'");
  }
  if (device->is_cuda() && !torch::cuda::is_available()) {
    throw options::OptionError("device", " " + name + ": this build of LibTorch (" + std::string(compat::torch_version()) +
                                             ") sees no CUDA device");
  }
  return *device;
}

void PretrainConfig::validate() const {
  // Ranges and choices are declared once, in the schema (train/options.cpp).
  options::pretrain_schema().check(*this);
  resolve_device(device);
}

void PretrainConfig::resolve_budget(int64_t steps_per_epoch) {
  steps_per_epoch = std::max<int64_t>(1, steps_per_epoch);
  if (min_steps > 0 && epochs * steps_per_epoch < min_steps) epochs = (min_steps + steps_per_epoch - 1) / steps_per_epoch;
  // At most 0.1: on a run of a few dozen steps 10 / steps would jump the sigmoids into saturation at once.
  if (generator_lr == 0) generator_lr = std::clamp(10.0 / static_cast<double>(epochs * steps_per_epoch), 1e-3, 0.1);
}

engine::ExecutionOptions PretrainConfig::execution(const torch::Device& device) const {
  engine::ExecutionOptions e;
  e.layout = channels_last(device) ? engine::Layout::ChannelsLast : engine::Layout::ChannelsFirst;
  e.cpu_conv = engine::parse_cpu_conv(cpu_conv);
  e.cpu_norm = engine::parse_kernels(cpu_norm);
  e.gpu_norm = engine::parse_kernels(gpu_norm);
  e.conv_bias = engine::parse_conv_bias(conv_bias);
  e.cl_conv = engine::parse_cl_conv(cl_conv);
  return e;
}

bool PretrainConfig::channels_last(const torch::Device& device) const {
  if (layout == "auto") return device.is_cuda();
  return layout == "channels-last";
}

bool PretrainConfig::mixed_precision(const torch::Device& device) const {
  if (precision == "auto") return device.is_cuda();
  return precision == "bf16";
}

}  // namespace leaves::train

namespace leaves::train {

json PretrainConfig::to_json() const { return options::pretrain_schema().to_json(*this); }

PretrainConfig PretrainConfig::from_json(const json& j) {
  // Options added later default (older run directories still resume); the
  // core of a run must be there.
  for (const char* key : {"data", "method", "epochs", "batch_size", "lr", "tau", "views", "width", "seed"}) {
    if (!j.is_object() || !j.contains(key)) {
      throw std::invalid_argument(std::string("pre-training config: '") + key + "' is missing");
    }
  }
  // Options added later keep their defaults, so older run directories still resume.
  PretrainConfig c;
  try {
    options::pretrain_schema().from_json(c, j);
  } catch (const options::OptionError& e) {
    throw std::invalid_argument(std::string("pre-training config: ") + e.what());
  }
  // A run written before schedules existed continues as it was trained.
  if (!j.contains("schedule")) c.schedule = "constant", c.warmup = 0, c.weight_decay = 0, c.min_steps = 0;
  return c;
}

// ---------------------------------------------------------------------------

Pretrainer::Pretrainer(const PretrainConfig& config, int64_t in_channels, std::shared_ptr<dist::Communicator> comm)
    : config_(config), device_(resolve_device(config.device)), comm_(std::move(comm)) {
  config_.validate();
  if (comm_ && device_.is_cuda() && !device_.has_index()) {
    device_ = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(comm_->world().local_rank));
  }
  config_.views.kind = generator_kind(config_.method);
  config_.views.channels = in_channels;
  encoder = nn::ResNet1d(nn::ResNet1dOptions(in_channels).width(config_.width));
  head = nn::ProjectionHead(nn::ProjectionHeadOptions(encoder->output_dim())
                                .hidden(config_.projection_hidden)
                                .output_dim(config_.projection_dim));
  generator = views::make_generator(config_.views);
  encoder->to(device_);
  head->to(device_);
  generator->to(device_);
  mixed_precision_ = config_.mixed_precision(device_);
  encoder->options.execution(config_.execution(device_));
  if (device_.is_cuda() && config_.gpu_norm == "fused" && !nn::batch_norm_act_cuda_built()) {
    throw OptionError("gpu_norm", " fused: this build has no CUDA kernels of its own (configure with a CUDA "
                                "LibTorch and nvcc, LEAVES_CUDA_KERNELS=ON)");
  }
  std::vector<torch::Tensor> params = encoder->parameters();
  for (auto& p : head->parameters()) params.push_back(p);  // the head is trained too
  engine::FlatAdam::Options encoder_options;
  encoder_options.lr = config_.lr;
  encoder_options.weight_decay = config_.weight_decay;
  encoder_optimizer = std::make_unique<engine::FlatAdam>(params, encoder_options);
  if (generator->learnable() && !generator->parameters().empty()) {
    // An unresolved auto rate (a Pretrainer outside a run: benchmarks, tests): the paper's.
    const double glr = config_.generator_lr > 0 ? config_.generator_lr : 1e-3;
    generator_optimizer = std::make_unique<engine::FlatAdam>(generator->parameters(), engine::FlatAdam::Options{glr});
  }
  similarity_sum_ = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat).device(device_));
  if (device_.is_cuda()) {
    compat::set_cudnn_benchmark(config_.cudnn_benchmark);
    // Collectives between ranks are not captured: graphs for one process only.
    if (config_.cuda_graphs && !comm_ && engine::StepGraph::available()) graph_ = std::make_unique<engine::StepGraph>();
  }
  if (comm_) {
    // Every rank starts from rank 0's initialisation, whatever its seed.
    auto state = parameters();
    for (auto& b : buffers()) state.push_back(b);
    comm_->broadcast_from_root(state);
    if (config_.sync_batchnorm) {
      auto* c = comm_.get();
      nn::sync_batchnorm(*encoder, [c](const torch::Tensor& t) { return dist::all_gather_with_grad(t, *c); });
    }
  }
}

std::vector<torch::Tensor> Pretrainer::parameters() const {
  std::vector<torch::Tensor> out = encoder->parameters();
  for (auto& p : head->parameters()) out.push_back(p);
  for (auto& p : generator->parameters()) out.push_back(p);
  return out;
}

std::vector<torch::Tensor> Pretrainer::buffers() const {
  std::vector<torch::Tensor> out = encoder->buffers();
  for (auto& b : head->buffers()) out.push_back(b);
  for (auto& b : generator->buffers()) out.push_back(b);
  return out;
}

torch::Tensor Pretrainer::forward_loss(const torch::Tensor& batch, const ViewFn& make_views) {
  encoder->train();
  head->train();
  generator->train();
  const int64_t B = batch.size(0);
  auto both = torch::cat({batch, batch}, 0);  // independent randomness per row
  torch::Tensor views;
  {
    c10::optional<torch::NoGradGuard> no_grad;
    if (!generator->learnable()) no_grad.emplace();
    views = make_views ? make_views(both) : generator->forward(both);
  }
  torch::Tensor z;
  {
    compat::AutocastGuard amp(device_, mixed_precision_);
    z = head(encoder(views));
  }
  if (z.scalar_type() != torch::kDouble) z = z.to(torch::kFloat);  // NT-Xent and its gathers in fp32
  {
    torch::NoGradGuard no_grad;
    last_similarity_ = torch::cosine_similarity(z.narrow(0, 0, B), z.narrow(0, B, B), 1).mean().to(torch::kFloat);
  }
  if (!comm_) return loss::nt_xent(z.narrow(0, 0, B), z.narrow(0, B, B), config_.tau);
  // Global negatives: one all-gather of [z1 | z2] `[B, 2D]` -> `[W B, 2D]`.
  const int64_t D = z.size(1);
  auto all = dist::all_gather_with_grad(torch::cat({z.narrow(0, 0, B), z.narrow(0, B, B)}, 1), *comm_);
  return loss::nt_xent_rows(all.narrow(1, 0, D), all.narrow(1, D, D), config_.tau, rank() * B, B);
}

torch::Tensor Pretrainer::compute_gradients(const torch::Tensor& batch, const ViewFn& views) {
  auto l = forward_loss(batch, views);
  encoder_optimizer->zero_grad();
  if (generator_optimizer) generator_optimizer->zero_grad();
  l.backward();
  if (comm_) {
    // The ranks' losses average to the global loss: so do their gradients.
    comm_->average_gradients(parameters(), config_.bucket_mb << 20);
  }
  if (generator_optimizer) {
    std::vector<torch::Tensor> grads;
    for (auto& p : generator->parameters())
      if (p.grad().defined()) grads.push_back(p.grad());
    torch::_foreach_neg_(grads);  // the generator ascends L
  }
  return l.detach();
}

void Pretrainer::apply_gradients() {
  encoder_optimizer->step();
  if (generator_optimizer) generator_optimizer->step();
  // As PyTorch's DistributedDataParallel: rank 0's BatchNorm statistics win.
  if (comm_ && !config_.sync_batchnorm) comm_->broadcast_from_root(encoder->buffers());
}

torch::Tensor Pretrainer::eager_step(const torch::Tensor& batch, const ViewFn& views) {
  auto l = compute_gradients(batch, views);
  similarity_sum_.add_(last_similarity_);
  apply_gradients();
  return l;
}

torch::Tensor Pretrainer::step(const torch::Tensor& batch, const ViewFn& views) {
  if (total_steps_ > 0) {
    // Device scalars filled outside any captured graph: the replay reads them.
    const int64_t warmup = static_cast<int64_t>(std::llround(config_.warmup * static_cast<double>(total_steps_)));
    const double f = engine::lr_factor(config_.schedule, steps_done_, total_steps_, warmup);
    encoder_optimizer->set_lr(encoder_optimizer->base_lr() * f);
    if (generator_optimizer) generator_optimizer->set_lr(generator_optimizer->base_lr() * f);
  }
  ++steps_done_;
  ++similarity_steps_;
  if (graph_ && !views) return graph_->run(batch, [this](const torch::Tensor& b) { return eager_step(b, nullptr); });
  return eager_step(batch, views);
}

void Pretrainer::set_schedule(int64_t total_steps) { total_steps_ = std::max<int64_t>(0, total_steps); }

double Pretrainer::take_positive_similarity() {
  if (similarity_steps_ == 0) return std::nan("");
  const double mean = similarity_sum_.item<double>() / static_cast<double>(similarity_steps_);
  similarity_sum_.zero_();
  similarity_steps_ = 0;
  return mean;
}

torch::Tensor Pretrainer::loss(const torch::Tensor& batch) {
  torch::NoGradGuard no_grad;
  return forward_loss(batch, nullptr);
}

void Pretrainer::save_checkpoint(const fs::path& path, int64_t epochs_done) const {
  torch::serialize::OutputArchive root;
  auto put_module = [&](const char* name, const torch::nn::Module& m) {
    torch::serialize::OutputArchive a;
    m.save(a);
    root.write(name, a);
  };
  put_module("encoder", *encoder);
  put_module("head", *head);
  put_module("generator", *generator);
  torch::serialize::OutputArchive eo;
  encoder_optimizer->save(eo);
  root.write("encoder_optimizer", eo);
  if (generator_optimizer) {
    torch::serialize::OutputArchive go;
    generator_optimizer->save(go);
    root.write("generator_optimizer", go);
  }
  root.write("epochs_done", torch::tensor(epochs_done));
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    root.write("rng_cpu", gen.get_state());
  }
  io::save_archive(path, root);
}

int64_t Pretrainer::load_checkpoint(const fs::path& path) {
  if (!fs::exists(path)) throw std::invalid_argument("checkpoint " + path.string() + " does not exist");
  torch::serialize::InputArchive root;
  try {
    root.load_from(path.string(), device_);
    auto get_module = [&](const char* name, torch::nn::Module& m) {
      torch::serialize::InputArchive a;
      root.read(name, a);
      // Module::load rebinds tensors without comparing shapes: compare them here.
      std::vector<std::pair<std::string, std::vector<int64_t>>> want;
      for (const auto& p : m.named_parameters()) want.emplace_back(p.key(), p.value().sizes().vec());
      for (const auto& b : m.named_buffers()) want.emplace_back(b.key(), b.value().sizes().vec());
      m.load(a);
      auto params = m.named_parameters();
      auto buffers = m.named_buffers();
      for (const auto& [key, sizes] : want) {
        const auto* t = params.find(key);
        if (t == nullptr) t = buffers.find(key);
        if (t != nullptr && t->sizes().vec() != sizes) {
          std::ostringstream s;
          s << "holds a model of another shape (" << name << "." << key << " is " << t->sizes() << ", this model's "
            << c10::IntArrayRef(sizes) << ")";
          throw std::invalid_argument(s.str());
        }
      }
    };
    get_module("encoder", *encoder);
    get_module("head", *head);
    get_module("generator", *generator);
    // Loading rebinds the parameters' storage: make them views of the flat
    // optimizer buffers again (and drop a graph that points at the old ones).
    encoder_optimizer->rebind();
    if (generator_optimizer) generator_optimizer->rebind();
    if (graph_) graph_->reset();
    torch::serialize::InputArchive eo;
    root.read("encoder_optimizer", eo);
    encoder_optimizer->load(eo);
    if (generator_optimizer) {
      torch::serialize::InputArchive go;
      root.read("generator_optimizer", go);
      generator_optimizer->load(go);
    }
    steps_done_ = encoder_optimizer->steps();
    torch::Tensor epochs, rng;
    root.read("epochs_done", epochs);
    root.read("rng_cpu", rng);
    auto gen = at::detail::getDefaultCPUGenerator();
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(rng.cpu());
    }
    return epochs.item<int64_t>();
  } catch (const c10::Error& e) {
    throw std::runtime_error("checkpoint " + path.string() + " cannot be read: " + e.what_without_backtrace());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("checkpoint " + path.string() + ": " + e.what());
  }
}

// ---------------------------------------------------------------------------

namespace {

std::string clock(double seconds) {
  const auto s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  std::ostringstream o;
  o << s / 3600 << ':' << std::setw(2) << std::setfill('0') << (s / 60) % 60 << ':' << std::setw(2) << s % 60;
  return o.str();
}

void save_encoder(const nn::ResNet1d& encoder, const PretrainConfig& c, const fs::path& dir, int64_t epochs) {
  {
    torch::serialize::OutputArchive archive;
    encoder->save(archive);
    io::save_archive(dir / "encoder.pt", archive);
  }
  json meta{{"in_channels", encoder->options.in_channels()},
            {"width", encoder->options.width()},
            {"representation_dim", encoder->output_dim()},
            {"method", c.method},
            {"data", c.data},
            {"epochs", epochs}};
  io::write_file(dir / "encoder.json", meta.dump(2) + "\n");
}

// The seed of the per-epoch streams: batches (shared by all ranks) and views
// (one per rank). Reseeding at each epoch makes a resumed run draw exactly what
// an uninterrupted one would, on any number of ranks.
uint64_t mix_seed(uint64_t seed, uint64_t epoch, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (epoch + 1) + 0xBF58476D1CE4E5B9ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFFULL;
}

}  // namespace

torch::Tensor train_epoch(Pretrainer& trainer, const torch::Tensor& x, uint64_t seed, int64_t epoch, int64_t* steps) {
  const int rank = trainer.rank(), W = trainer.world_size();
  const int64_t N = x.size(0), B = trainer.config().batch_size, n = N / (B * W);
  const auto device = trainer.device();
  // Distributed sampler: one seeded permutation shared by all ranks; global
  // batch s is its rows [s W B, (s + 1) W B), and rank r takes the r-th B of them.
  auto batches = at::detail::createCPUGenerator(mix_seed(seed, epoch, 0));
  auto order = torch::randperm(N, batches, torch::TensorOptions().dtype(torch::kLong)).to(device);
  torch::manual_seed(mix_seed(seed, epoch, 1 + rank));  // this rank's views
  auto total = torch::zeros({}, torch::TensorOptions().device(device));
  for (int64_t s = 0; s < n; ++s) {
    auto batch = x.index_select(0, order.narrow(0, (s * W + rank) * B, B));
    total += trainer.step(batch);
  }
  if (steps) *steps = n;
  return total;
}

namespace {

// How far each learned view parameter moved from its start (config.json's
// generator_start), largest relative change first: a generator that does not
// learn acts as a fixed random augmentation, and the user should see it.
void report_movement(const views::ViewGenerator& generator, const fs::path& dir, std::ostream& out) {
  std::ifstream f(dir / "config.json");
  const json config = json::parse(f, nullptr, false);
  if (!config.is_object() || !config.contains("generator_start")) return;
  const auto& start = config["generator_start"];
  std::vector<std::tuple<double, std::string, double, double>> moved;  // |relative change|, name, from, to
  for (const auto& [name, value] : views::named_report(generator)) {
    if (!start.contains(name) || !start[name].is_number()) continue;
    const double from = start[name].get<double>();
    // Relative to the start, or to 0.01 for a parameter that starts at (or near) zero.
    const double rel = std::fabs(value - from) / std::max(std::fabs(from), 0.01);
    moved.emplace_back(rel, name, from, value);
  }
  if (moved.empty()) return;
  std::sort(moved.begin(), moved.end(), [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  const double largest = std::get<0>(moved.front());
  std::ostringstream line;
  line << std::setprecision(4) << "view parameters: the largest moved " << 100 * largest << " % from its start";
  for (size_t i = 0; i < std::min<size_t>(3, moved.size()); ++i) {
    line << (i == 0 ? " (" : ", ") << std::get<1>(moved[i]) << " " << std::get<2>(moved[i]) << " -> "
         << std::get<3>(moved[i]);
  }
  line << ")";
  if (largest < 0.05) line << "; under 5 %: the generator barely learned, its views are close to fixed random ones";
  out << line.str() << "\n";
}

}  // namespace

void check_new_run_dir(const fs::path& dir) {
  if (fs::exists(dir / "config.json")) {
    throw OptionError("out", " " + dir.string() +
                                " already holds a run: resume it with --resume, or choose another directory");
  }
  io::require_new_or_own(dir, "--out", "", "a leaves run");
}

namespace {

/// config.json of a fresh run: every option, and under "resolved" what each
/// "auto" and each device-dependent setting came to, the data spec with
/// absolute paths (--resume from any folder), the data's size, and where the
/// learned view parameters start (the end of the run says how far they moved).
json run_record(const PretrainConfig& config, const Pretrainer& trainer, const data::Dataset& train_set, int W,
                int64_t steps, int64_t epochs_requested, bool single_process) {
  const int64_t N = train_set.size(), B = config.batch_size;
  const bool data_parallel = !single_process;
  json resolved = config.to_json();
  resolved["train_size"] = N;
  resolved["length"] = train_set.length();
  resolved["channels"] = train_set.channels();
  resolved["libtorch"] = compat::torch_version();
  resolved["world_size"] = W;
  // What every "auto" and every device-dependent setting came to, and the
  // data spec with absolute paths (--resume from any folder).
  const auto device = trainer.device();
  resolved["resolved"] = {
      {"data", data::absolute_spec(config.data)},
      {"device", device.str()},
      {"precision", config.mixed_precision(device) ? "bf16" : "fp32"},
      {"layout", config.channels_last(device) ? "channels-last" : "channels-first"},
      {"cpu_conv", device.is_cuda() ? "unused (CUDA)" : engine::use_blas_conv(engine::parse_cpu_conv(config.cpu_conv)) ? "blas" : "torch"},
      {"cpu_norm", device.is_cuda() ? "unused (CUDA)" : config.cpu_norm},
      {"gpu_norm", device.is_cuda() ? config.gpu_norm : "unused (CPU)"},
      {"cuda_graphs", device.is_cuda() && config.cuda_graphs && !data_parallel && engine::StepGraph::available()},
      {"cudnn_benchmark", device.is_cuda() && config.cudnn_benchmark},
      {"generator_lr", config.generator_lr}};
  resolved["global_batch"] = B * W;
  resolved["epochs_requested"] = epochs_requested;
  resolved["steps_per_epoch"] = steps;
  resolved["total_steps"] = steps * config.epochs;
  // Where the learned view parameters start: the end of the run says how far they moved.
  for (const auto& [name, value] : views::named_report(*trainer.generator)) resolved["generator_start"][name] = value;
  return resolved;
}

/// A resumed run that trains more epochs: its config.json says so, for later resumes.
void record_epochs(const fs::path& dir, int64_t epochs) {
  std::ifstream f(dir / "config.json");
  json resolved = json::parse(f, nullptr, false);
  if (resolved.is_object() && resolved.value("epochs", int64_t{0}) != epochs) {
    resolved["epochs"] = epochs;
    io::write_file(dir / "config.json", resolved.dump(2) + "\n");
  }
}

/// One line of log.jsonl.
json epoch_record(const PretrainConfig& config, const Pretrainer& trainer, int64_t epoch, int64_t steps, int W,
                  double loss, double similarity, double seconds) {
  json record{{"epoch", epoch},
              {"encoder_loss", loss},
              {"generator_loss", trainer.generator->learnable() ? json(-loss) : json(nullptr)},
              {"positive_similarity", similarity},
              {"lr", config.lr * engine::lr_factor(config.schedule, epoch * steps - 1, steps * config.epochs,
                                                   static_cast<int64_t>(std::llround(config.warmup * steps * config.epochs)))},
              {"samples_per_s", steps * config.batch_size * W / seconds},
              {"seconds", seconds},
              {"steps", steps}};
  if (W > 1) record["world_size"] = W;
  for (const auto& [name, value] : views::named_report(*trainer.generator)) record["generator"][name] = value;
  return record;
}

/// The progress line of an epoch.
std::string progress_line(int64_t epoch, int64_t epochs, double loss, double similarity, double samples_per_s,
                          double elapsed, double eta) {
  std::ostringstream line;
  line << "epoch " << epoch << "/" << epochs << "  loss " << std::fixed << std::setprecision(4) << loss
       << "  positive cos " << std::setprecision(3) << similarity << "  " << std::setprecision(1) << samples_per_s
       << " samples/s  elapsed " << clock(elapsed) << "  ETA " << clock(eta) << "\n";
  return line.str();
}

PretrainResult run(PretrainConfig config, const fs::path& dir, bool resume, std::ostream* progress,
                   std::shared_ptr<dist::Communicator> comm) {
  config.validate();
  const int rank = comm ? comm->rank() : 0, W = comm ? comm->size() : 1;
  const bool writer = rank == 0;  // rank 0 alone writes the run directory
  if (!writer) progress = nullptr;
  if (writer && !resume) check_new_run_dir(dir);  // before the data are read: a refusal costs nothing
  const auto splits = data::load_splits(data::parse_data_spec(config.data));
  const auto& train_set = splits.train;
  const int64_t N = train_set.size(), B = config.batch_size;
  if (N < B * W) {
    throw OptionError("batch_size", " " + std::to_string(B) + (W > 1 ? " x " + std::to_string(W) + " workers" : "") +
                                " is larger than the training split (" + std::to_string(N) + " samples) of --data '" +
                                config.data + "'");
  }
  const int64_t steps = N / (B * W);  // drop the last partial batch: NT-Xent wants full batches
  const int64_t epochs_requested = config.epochs;
  config.resolve_budget(steps);
  if (progress && config.epochs != epochs_requested) {
    *progress << "min-steps " << config.min_steps << ": " << config.epochs << " epochs of " << steps
              << (steps == 1 ? " step" : " steps") << " instead of " << epochs_requested << "\n";
  }
  torch::manual_seed(config.seed);  // the same initialisation on every rank
  Pretrainer trainer(config, train_set.channels(), comm);
  config = trainer.config();  // with the generator kind and channels resolved
  // The run directory: locked by its writer for the whole run; a fresh run
  // goes only into a new or empty folder (checked again under the lock).
  std::unique_ptr<io::DirLock> lock;
  std::unique_ptr<io::JsonLinesLog> log;
  // A fresh run that fails before its first checkpoint (bad data found in the
  // first step, a full disk) takes back what it wrote: the folder is as it was.
  bool created_dir = false, owned = false, checkpointed = false;
  auto undo_fresh_run = [&] {
    if (!owned || checkpointed) return;
    std::error_code ec;
    if (created_dir) {
      fs::remove_all(dir, ec);
    } else {
      for (const char* name : {"config.json", "log.jsonl", "checkpoints", io::kLockFile}) fs::remove_all(dir / name, ec);
    }
  };
  if (writer) {
    created_dir = !fs::exists(dir);
    lock = std::make_unique<io::DirLock>(dir, "run directory");
    if (!resume) {
      try {
        check_new_run_dir(dir);  // another process may have got there first
      } catch (...) {
        if (created_dir) fs::remove(dir / io::kLockFile);
        throw;
      }
      owned = true;
    }
  }
  double last_loss = std::nan("");
  try {
    if (writer && !resume) {
      // config.json first: a run killed from here on is one `--resume` continues
      // (from epoch 1 when no checkpoint was written yet), never a folder of
      // files that no command accepts.
      io::write_file(dir / "config.json", run_record(config, trainer, train_set, W, steps, epochs_requested, !comm).dump(2) + "\n");
    }
    if (writer) {
      fs::create_directories(dir / "checkpoints");
      // Temporaries left by a run that was killed while writing.
      io::remove_stale_temporaries(dir);
      io::remove_stale_temporaries(dir / "checkpoints");
      log = std::make_unique<io::JsonLinesLog>(dir / "log.jsonl");
    }
    const fs::path last = dir / "checkpoints" / "last.pt";
    int64_t start = 0;
    if (resume) {
      // A run killed before its first checkpoint starts again from epoch 1.
      if (fs::exists(last)) start = trainer.load_checkpoint(last);
      if (start > config.epochs) {
        throw OptionError("resume", " " + dir.string() + ": the run has trained " + std::to_string(start) +
                                    " epochs; --epochs " + std::to_string(config.epochs) +
                                    " would train none (give more than " + std::to_string(start) +
                                    "; nothing was changed)");
      }
      if (start == config.epochs) {
        // Nothing to train; only a run killed between its last checkpoint and
        // its encoder gets the encoder written.
        PretrainResult done{start, std::nan(""), dir, dir / "encoder.pt", true};
        if (writer && !(fs::exists(dir / "encoder.pt") && fs::exists(dir / "encoder.json"))) {
          save_encoder(trainer.encoder, config, dir, start);
        }
        if (comm) comm->barrier();
        return done;
      }
      if (writer) {
        log->filter([&](const json& r) { return r.value("epoch", int64_t{0}) <= start; });
        record_epochs(dir, config.epochs);
      }
    }
    if (progress && comm) {
      *progress << W << (W == 1 ? " worker (" : " workers (") << comm->backend() << "), batch " << B
                << " per worker, global batch " << B * W << (config.sync_batchnorm ? ", synchronised BatchNorm" : "")
                << "\n";
    }
    auto x = train_set.x.to(trainer.device());  // resident: batches are drawn on the device
    trainer.set_schedule(steps * config.epochs);
    const auto names = trainer.generator->report_names();
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    for (int64_t epoch = start + 1; epoch <= config.epochs; ++epoch) {
      const auto e0 = Clock::now();
      auto total = train_epoch(trainer, x, config.seed, epoch, nullptr);
      if (comm) comm->all_reduce_sum(total);
      last_loss = total.item<double>() / (steps * W);  // the one host synchronisation per epoch
      const double similarity = trainer.take_positive_similarity();  // this rank's
      const double seconds = std::chrono::duration<double>(Clock::now() - e0).count();
      if (!writer) continue;
      log->append(epoch_record(config, trainer, epoch, steps, W, last_loss, similarity, seconds));
      trainer.save_checkpoint(last, epoch);
      checkpointed = true;
      if (config.checkpoint_every > 0 && epoch % config.checkpoint_every == 0) {
        std::ostringstream name;
        name << "epoch-" << std::setw(4) << std::setfill('0') << epoch << ".pt";
        trainer.save_checkpoint(dir / "checkpoints" / name.str(), epoch);
      }
      if (progress) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
        *progress << progress_line(epoch, config.epochs, last_loss, similarity, steps * B * W / seconds, elapsed,
                                   elapsed / (epoch - start) * (config.epochs - epoch))
                  << std::flush;
      }
    }
    if (writer) save_encoder(trainer.encoder, config, dir, config.epochs);
    if (progress && trainer.generator->learnable()) report_movement(*trainer.generator, dir, *progress);
  } catch (...) {
    undo_fresh_run();
    throw;
  }
  // Nobody reports success before rank 0 has written everything.
  if (comm) comm->barrier();
  return {config.epochs, last_loss, dir, dir / "encoder.pt"};
}

}  // namespace

PretrainResult pretrain(const PretrainConfig& config, const fs::path& dir, std::ostream* progress,
                        std::shared_ptr<dist::Communicator> comm) {
  return run(config, dir, false, progress, std::move(comm));
}

PretrainResult resume_pretraining(const fs::path& dir, int64_t resume_epochs, std::ostream* progress,
                                  std::shared_ptr<dist::Communicator> comm) {
  std::ifstream f(dir / "config.json");
  if (!f) throw OptionError("resume", " " + dir.string() + ": no config.json there (not a run directory)");
  json j = json::parse(f, nullptr, false);
  if (j.is_discarded()) throw OptionError("resume", " " + dir.string() + ": config.json is not valid JSON");
  auto config = PretrainConfig::from_json(j);
  // The data as resolved when the run began: the spec as typed may be relative
  // to another working directory.
  if (j.contains("resolved") && j["resolved"].is_object() && j["resolved"].value("data", std::string()).size()) {
    config.data = j["resolved"]["data"].get<std::string>();
  }
  if (resume_epochs > 0) config.epochs = resume_epochs;
  const int64_t written_by = j.value("world_size", int64_t{1});
  const int64_t now = comm ? comm->size() : 1;
  if (progress && written_by != now && (!comm || comm->rank() == 0)) {
    *progress << "note: " << dir.string() << " was trained by " << written_by << " worker(s) (global batch "
              << written_by * config.batch_size << "); continuing with " << now << " (global batch "
              << now * config.batch_size << ")\n";
  }
  return run(config, dir, true, progress, std::move(comm));
}

nn::ResNet1d load_encoder(const fs::path& dir) {
  std::ifstream f(dir / "encoder.json");
  if (!f) throw std::invalid_argument(dir.string() + ": no encoder.json (did pre-training finish?)");
  json meta = json::parse(f, nullptr, false);
  if (meta.is_discarded() || !meta.contains("in_channels") || !meta.contains("width")) {
    throw std::invalid_argument((dir / "encoder.json").string() + ": expected in_channels and width");
  }
  nn::ResNet1d encoder(nn::ResNet1dOptions(meta["in_channels"].get<int64_t>()).width(meta["width"].get<int64_t>()));
  try {
    torch::load(encoder, (dir / "encoder.pt").string());
  } catch (const c10::Error& e) {
    throw std::runtime_error((dir / "encoder.pt").string() + " cannot be read: " + e.what_without_backtrace());
  }
  return encoder;
}

std::shared_ptr<views::ViewGenerator> load_generator(const fs::path& dir, PretrainConfig* out_config) {
  std::ifstream f(dir / "config.json");
  if (!f) throw OptionError("generator", " " + dir.string() + ": no config.json (not a pre-training run)");
  json j = json::parse(f, nullptr, false);
  if (j.is_discarded()) throw OptionError("generator", " " + dir.string() + ": config.json is not valid JSON");
  auto config = PretrainConfig::from_json(j);
  if (!fs::exists(dir / "checkpoints" / "last.pt")) {
    throw OptionError("generator", " " + dir.string() + ": no checkpoints/last.pt");
  }
  config.device = "cpu";
  int64_t channels = j.value("channels", int64_t{0});
  if (channels == 0) {  // runs written before "channels" was recorded: the encoder's
    std::ifstream e(dir / "encoder.json");
    const json meta = e ? json::parse(e, nullptr, false) : json();
    channels = meta.is_object() ? meta.value("in_channels", config.views.channels) : config.views.channels;
  }
  Pretrainer p(config, channels);
  p.load_checkpoint(dir / "checkpoints" / "last.pt");
  if (out_config) *out_config = config;
  return p.generator;
}

namespace {

std::string method_label(const std::string& method, const views::GeneratorConfig& g) {
  if (method == "leaves") return "LEAVES";
  if (method == "viewmaker") return "ViewMaker";
  std::ostringstream s;
  s << "SimCLR T(" << g.sigma << ")";
  return s.str();
}

}  // namespace

NamedGenerator trained_generator(const fs::path& run_dir, PretrainConfig* out_config) {
  PretrainConfig config;
  auto g = load_generator(run_dir, &config);
  if (out_config) *out_config = config;
  const auto name = run_dir.filename().empty() ? run_dir.parent_path().filename() : run_dir.filename();
  return {method_label(config.method, config.views) + " (" + name.string() + ")", config.method, g};
}

NamedGenerator untrained_generator(const std::string& method, int64_t channels, views::GeneratorConfig c) {
  c.kind = generator_kind(method);
  c.channels = channels;
  return {method_label(method, c) + ", untrained", method, views::make_generator(c)};
}

}  // namespace leaves::train
