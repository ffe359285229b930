#include "leaves/train/pretrain.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "leaves/compat.h"
#include "leaves/data/spec.h"
#include "leaves/loss/nt_xent.h"
#include "leaves/train/run_dir.h"

namespace leaves::train {

namespace fs = std::filesystem;
using nlohmann::json;

std::string generator_kind(const std::string& method) {
  if (method == "leaves") return "leaves";
  if (method == "simclr") return "random";
  if (method == "viewmaker") return "viewmaker";
  throw std::invalid_argument("--method must be leaves, simclr or viewmaker, got '" + method + "'");
}

torch::Device resolve_device(const std::string& name) {
  std::unique_ptr<torch::Device> device;
  try {
    device = std::make_unique<torch::Device>(name);
  } catch (const std::exception&) {
    throw std::invalid_argument("--device must be 'cpu', 'cuda' or 'cuda:N', got '" + name + "'");
  }
  if (device->is_cuda() && !torch::cuda::is_available()) {
    throw std::invalid_argument("--device " + name + ": this build of LibTorch (" +
                                std::string(compat::torch_version()) + ") sees no CUDA device");
  }
  return *device;
}

void PretrainConfig::validate() const {
  generator_kind(method);
  auto bad = [](const std::string& what) { throw std::invalid_argument(what); };
  if (epochs < 1) bad("--epochs must be >= 1, got " + std::to_string(epochs));
  if (batch_size < 2) bad("--batch-size must be >= 2 (NT-Xent needs negatives), got " + std::to_string(batch_size));
  if (!(lr > 0) || !std::isfinite(lr)) bad("--lr must be > 0");
  if (!(generator_lr > 0) || !std::isfinite(generator_lr)) bad("--generator-lr must be > 0");
  if (!(tau > 0) || !std::isfinite(tau)) bad("--tau must be > 0");
  if (!(views.eta > 0) || !std::isfinite(views.eta)) bad("--eta must be > 0");
  if (views.mixture_components < 1) bad("--mixture-components must be >= 1");
  if (views.max_segments < 1) bad("--max-segments must be >= 1");
  if (width < 1) bad("--width must be >= 1");
  if (checkpoint_every < 0) bad("--checkpoint-every must be >= 0");
}

json PretrainConfig::to_json() const {
  return json{{"data", data},
              {"method", method},
              {"epochs", epochs},
              {"batch_size", batch_size},
              {"lr", lr},
              {"generator_lr", generator_lr},
              {"tau", tau},
              {"views",
               {{"kind", views.kind},
                {"channels", views.channels},
                {"eta", views.eta},
                {"mixture_components", views.mixture_components},
                {"max_segments", views.max_segments},
                {"knots", views.knots},
                {"interpolation", views.interpolation},
                {"per_channel", views.per_channel},
                {"normalize", views.normalize},
                {"perm_estimator", views.perm_estimator},
                {"sampling", views.sampling},
                {"sigma", views.sigma},
                {"budget", views.budget}}},
              {"width", width},
              {"projection_hidden", projection_hidden},
              {"projection_dim", projection_dim},
              {"device", device},
              {"seed", seed},
              {"checkpoint_every", checkpoint_every}};
}

PretrainConfig PretrainConfig::from_json(const json& j) {
  PretrainConfig c;
  try {
    j.at("data").get_to(c.data);
    j.at("method").get_to(c.method);
    j.at("epochs").get_to(c.epochs);
    j.at("batch_size").get_to(c.batch_size);
    j.at("lr").get_to(c.lr);
    j.at("generator_lr").get_to(c.generator_lr);
    j.at("tau").get_to(c.tau);
    const auto& v = j.at("views");
    v.at("kind").get_to(c.views.kind);
    v.at("channels").get_to(c.views.channels);
    v.at("eta").get_to(c.views.eta);
    v.at("mixture_components").get_to(c.views.mixture_components);
    v.at("max_segments").get_to(c.views.max_segments);
    v.at("knots").get_to(c.views.knots);
    v.at("interpolation").get_to(c.views.interpolation);
    v.at("per_channel").get_to(c.views.per_channel);
    v.at("normalize").get_to(c.views.normalize);
    v.at("perm_estimator").get_to(c.views.perm_estimator);
    v.at("sampling").get_to(c.views.sampling);
    v.at("sigma").get_to(c.views.sigma);
    v.at("budget").get_to(c.views.budget);
    j.at("width").get_to(c.width);
    j.at("projection_hidden").get_to(c.projection_hidden);
    j.at("projection_dim").get_to(c.projection_dim);
    j.at("device").get_to(c.device);
    j.at("seed").get_to(c.seed);
    j.at("checkpoint_every").get_to(c.checkpoint_every);
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("pre-training config: ") + e.what());
  }
  return c;
}

// ---------------------------------------------------------------------------

Pretrainer::Pretrainer(const PretrainConfig& config, int64_t in_channels)
    : config_(config), device_(resolve_device(config.device)) {
  config_.validate();
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
  std::vector<torch::Tensor> params = encoder->parameters();
  for (auto& p : head->parameters()) params.push_back(p);  // the head is trained too
  encoder_optimizer = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(config_.lr));
  if (generator->learnable()) {
    generator_optimizer = std::make_unique<torch::optim::Adam>(generator->parameters(),
                                                               torch::optim::AdamOptions(config_.generator_lr));
  }
}

torch::Tensor Pretrainer::forward_loss(const torch::Tensor& batch) {
  encoder->train();
  head->train();
  generator->train();
  const int64_t B = batch.size(0);
  auto both = torch::cat({batch, batch}, 0);  // independent randomness per row
  torch::Tensor views;
  if (generator->learnable()) {
    views = generator->forward(both);
  } else {
    torch::NoGradGuard no_grad;
    views = generator->forward(both);
  }
  auto z = head(encoder(views));
  return loss::nt_xent(z.narrow(0, 0, B), z.narrow(0, B, B), config_.tau);
}

torch::Tensor Pretrainer::step(const torch::Tensor& batch) {
  auto l = forward_loss(batch);
  encoder_optimizer->zero_grad();
  if (generator_optimizer) generator_optimizer->zero_grad();
  l.backward();
  if (generator_optimizer) {
    for (auto& p : generator->parameters())
      if (p.grad().defined()) p.mutable_grad().neg_();  // the generator ascends L
  }
  encoder_optimizer->step();
  if (generator_optimizer) generator_optimizer->step();
  return l.detach();
}

torch::Tensor Pretrainer::loss(const torch::Tensor& batch) {
  torch::NoGradGuard no_grad;
  return forward_loss(batch);
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
  commit_file(path, [&](const std::string& tmp) { root.save_to(tmp); });
}

int64_t Pretrainer::load_checkpoint(const fs::path& path) {
  if (!fs::exists(path)) throw std::invalid_argument("checkpoint " + path.string() + " does not exist");
  torch::serialize::InputArchive root;
  try {
    root.load_from(path.string(), device_);
    auto get_module = [&](const char* name, torch::nn::Module& m) {
      torch::serialize::InputArchive a;
      root.read(name, a);
      m.load(a);
    };
    get_module("encoder", *encoder);
    get_module("head", *head);
    get_module("generator", *generator);
    torch::serialize::InputArchive eo;
    root.read("encoder_optimizer", eo);
    encoder_optimizer->load(eo);
    if (generator_optimizer) {
      torch::serialize::InputArchive go;
      root.read("generator_optimizer", go);
      generator_optimizer->load(go);
    }
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
  commit_file(dir / "encoder.pt", [&](const std::string& tmp) { torch::save(encoder, tmp); });
  json meta{{"in_channels", encoder->options.in_channels()},
            {"width", encoder->options.width()},
            {"representation_dim", encoder->output_dim()},
            {"method", c.method},
            {"data", c.data},
            {"epochs", epochs}};
  write_file_atomically(dir / "encoder.json", meta.dump(2) + "\n");
}

PretrainResult run(PretrainConfig config, const fs::path& dir, bool resume, std::ostream* progress) {
  config.validate();
  const auto splits = data::load_splits(data::parse_data_spec(config.data));
  const auto& train_set = splits.train;
  const int64_t N = train_set.size(), B = config.batch_size;
  if (N < B) {
    throw std::invalid_argument("--batch-size " + std::to_string(B) + " is larger than the training split (" +
                                std::to_string(N) + " samples) of --data '" + config.data + "'");
  }
  torch::manual_seed(config.seed);
  Pretrainer trainer(config, train_set.channels());
  config = trainer.config();  // with the generator kind and channels resolved
  fs::create_directories(dir / "checkpoints");
  // Temporaries left by a run that was killed while writing.
  for (const auto& where : {dir, dir / "checkpoints"})
    for (const auto& e : fs::directory_iterator(where))
      if (e.path().filename().string().find(".tmp.") != std::string::npos) fs::remove(e.path());
  JsonLinesLog log(dir / "log.jsonl");
  int64_t start = 0;
  if (resume) {
    start = trainer.load_checkpoint(dir / "checkpoints" / "last.pt");
    log.filter([&](const json& r) { return r.value("epoch", int64_t{0}) <= start; });
  } else {
    json resolved = config.to_json();
    resolved["train_size"] = N;
    resolved["length"] = train_set.length();
    resolved["libtorch"] = compat::torch_version();
    write_file_atomically(dir / "config.json", resolved.dump(2) + "\n");
  }
  const auto device = trainer.device();
  auto x = train_set.x.to(device);
  const int64_t steps = N / B;  // drop the last partial batch: NT-Xent wants full batches
  const auto names = trainer.generator->report_names();
  double last_loss = std::nan("");
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  for (int64_t epoch = start + 1; epoch <= config.epochs; ++epoch) {
    const auto e0 = Clock::now();
    auto order = torch::randperm(N, torch::kLong).to(device);
    auto total = torch::zeros({}, torch::TensorOptions().device(device));
    for (int64_t s = 0; s < steps; ++s) {
      auto batch = x.index_select(0, order.narrow(0, s * B, B));
      total += trainer.step(batch);
    }
    last_loss = total.item<double>() / steps;  // the one host synchronisation per epoch
    const double seconds = std::chrono::duration<double>(Clock::now() - e0).count();
    json record{{"epoch", epoch},
                {"encoder_loss", last_loss},
                {"generator_loss", trainer.generator->learnable() ? json(-last_loss) : json(nullptr)},
                {"samples_per_s", steps * B / seconds},
                {"seconds", seconds},
                {"steps", steps}};
    for (const auto& [name, value] : views::named_report(*trainer.generator)) record["generator"][name] = value;
    log.append(record);
    trainer.save_checkpoint(dir / "checkpoints" / "last.pt", epoch);
    if (config.checkpoint_every > 0 && epoch % config.checkpoint_every == 0) {
      std::ostringstream name;
      name << "epoch-" << std::setw(4) << std::setfill('0') << epoch << ".pt";
      trainer.save_checkpoint(dir / "checkpoints" / name.str(), epoch);
    }
    if (progress) {
      const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
      const double eta = elapsed / (epoch - start) * (config.epochs - epoch);
      std::ostringstream line;
      line << "epoch " << epoch << "/" << config.epochs << "  loss " << std::fixed << std::setprecision(4) << last_loss
           << "  " << std::setprecision(1) << steps * B / seconds << " samples/s  elapsed " << clock(elapsed)
           << "  ETA " << clock(eta) << "\n";
      *progress << line.str() << std::flush;
    }
  }
  save_encoder(trainer.encoder, config, dir, config.epochs);
  return {config.epochs, last_loss, dir, dir / "encoder.pt"};
}

}  // namespace

PretrainResult pretrain(const PretrainConfig& config, const fs::path& dir, std::ostream* progress) {
  if (fs::exists(dir / "config.json")) {
    throw std::invalid_argument("--out " + dir.string() +
                                " already holds a run: resume it with --resume, or choose another directory");
  }
  return run(config, dir, false, progress);
}

PretrainResult resume_pretraining(const fs::path& dir, int64_t resume_epochs, std::ostream* progress) {
  std::ifstream f(dir / "config.json");
  if (!f) throw std::invalid_argument("--resume " + dir.string() + ": no config.json there (not a run directory)");
  json j = json::parse(f, nullptr, false);
  if (j.is_discarded()) throw std::invalid_argument("--resume " + dir.string() + ": config.json is not valid JSON");
  auto config = PretrainConfig::from_json(j);
  if (resume_epochs > 0) config.epochs = resume_epochs;
  if (!fs::exists(dir / "checkpoints" / "last.pt")) {
    throw std::invalid_argument("--resume " + dir.string() + ": no checkpoint yet (checkpoints/last.pt)");
  }
  return run(config, dir, true, progress);
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

}  // namespace leaves::train
