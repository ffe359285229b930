#include "leaves/train/finetune.h"
#include "leaves/option_error.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <random>
#include <stdexcept>

#include "leaves/data/spec.h"
#include "leaves/nn/batchnorm.h"
#include "leaves/train/pretrain.h"
#include "leaves/io/output.h"
#include "leaves/train/options.h"

namespace leaves::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

void FinetuneConfig::validate() const {
  // Ranges and choices are declared once, in the schema (train/options.cpp).
  options::finetune_schema().check(*this);
  using options::OptionError;
  if (validation == "none" && patience > 0) throw OptionError("patience", " needs a validation split (not with validation none)");
  if (linear && bn_stats == "recompute") {
    throw OptionError("bn_stats", " recompute: not with linear (the frozen encoder keeps its pre-trained statistics)");
  }
  if (linear && encoder.empty()) throw OptionError("linear", " needs an encoder run directory (a probe on random features is not a baseline)");
  resolve_device(device);
}

json FinetuneConfig::to_json() const { return options::finetune_schema().to_json(*this); }

FinetuneConfig FinetuneConfig::from_json(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("fine-tuning config: not a JSON object");
  FinetuneConfig c;
  try {
    options::finetune_schema().from_json(c, j);
  } catch (const options::OptionError& e) {
    throw std::invalid_argument(std::string("fine-tuning config: ") + e.what());
  }
  return c;
}

json FinetuneResult::to_json() const {
  return {{"select", select},
          {"best_epoch", best_epoch},
          {"epochs_run", epochs_run},
          {"seconds", seconds},
          {"class_names", class_names},
          {"val", val.to_json(class_names)},
          {"test", test.to_json(class_names)}};
}

torch::Tensor label_subset(const torch::Tensor& y, double fraction, uint64_t seed) {
  if (!(fraction > 0 && fraction <= 1)) throw std::invalid_argument("label fraction must be in (0, 1]");
  if (fraction == 1) return torch::arange(y.size(0), torch::kLong);
  std::map<int64_t, std::vector<int64_t>> by_class;
  auto acc = y.to(torch::kLong).contiguous();
  for (int64_t i = 0; i < acc.size(0); ++i) by_class[acc.data_ptr<int64_t>()[i]].push_back(i);
  std::mt19937_64 rng(seed);
  std::vector<int64_t> keep;
  for (auto& [c, idx] : by_class) {
    std::shuffle(idx.begin(), idx.end(), rng);
    const auto n = std::max<int64_t>(1, std::llround(fraction * static_cast<double>(idx.size())));
    keep.insert(keep.end(), idx.begin(), idx.begin() + std::min<int64_t>(n, idx.size()));
  }
  std::sort(keep.begin(), keep.end());
  return torch::tensor(keep, torch::kLong);
}

namespace {

struct Classifier {
  nn::ResNet1d encoder{nullptr};
  torch::nn::Linear head{nullptr};
};

// Class probabilities (softmax) or label probabilities (sigmoid) for `x`, in
// batches, eval mode, on the CPU.
torch::Tensor predict(Classifier& m, const torch::Tensor& x, bool multi_label, const torch::Device& device,
                      int64_t batch_size) {
  torch::NoGradGuard no_grad;
  m.encoder->eval();
  m.head->eval();
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < x.size(0); i += batch_size) {
    auto logits = m.head(m.encoder(x.slice(0, i, std::min(i + batch_size, x.size(0))).to(device)));
    out.push_back((multi_label ? torch::sigmoid(logits) : torch::softmax(logits, 1)).to(torch::kCPU, torch::kDouble));
  }
  return torch::cat(out);
}

eval::Metrics evaluate(const torch::Tensor& probs, const data::Dataset& d, bool multi_label, int64_t positive) {
  return multi_label ? eval::multi_label_metrics(d.targets, probs, d.y) : eval::single_label_metrics(d.y, probs, positive);
}

std::vector<torch::Tensor> state_of(const Classifier& m) {
  std::vector<torch::Tensor> s;
  for (const auto& t : m.encoder->parameters()) s.push_back(t.detach().clone());
  for (const auto& t : m.encoder->buffers()) s.push_back(t.detach().clone());
  for (const auto& t : m.head->parameters()) s.push_back(t.detach().clone());
  return s;
}

void restore(Classifier& m, const std::vector<torch::Tensor>& s) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& t : m.encoder->parameters()) t.copy_(s[i++]);
  for (auto& t : m.encoder->buffers()) t.copy_(s[i++]);
  for (auto& t : m.head->parameters()) t.copy_(s[i++]);
}

std::string format_metric(double v) {
  if (std::isnan(v)) return "n/a";
  std::ostringstream s;
  s << std::fixed << std::setprecision(4) << v;
  return s.str();
}

}  // namespace

void check_finetune_dir(const fs::path& run_dir) {
  if (fs::exists(run_dir / "metrics.json")) {
    throw std::invalid_argument(run_dir.string() + ": already holds a finished fine-tuning run (metrics.json)");
  }
  // An interrupted fine-tuning run (config.json, no metrics.json) starts again.
  io::require_new_or_own(run_dir, "--out", "config.json", "a leaves run");
}

namespace {

// ---------------------------------------------------------------------------
// Set-up: the data, the model, the batches.

/// The data of a fine-tuning run, ready to train on.
struct TaskData {
  data::Splits splits;
  data::Dataset train;  ///< the training split, reduced to the label fraction
  bool multi_label = false;
  int64_t classes = 0;
  int64_t positive = -1;  ///< binary tasks: the positive class, -1 the default
  std::string select;     ///< the validation metric
  bool use_validation = true;
};

TaskData load_task(const FinetuneConfig& config) {
  TaskData t;
  t.splits = data::load_splits(data::parse_data_spec(config.data));
  auto& splits = t.splits;
  t.multi_label = splits.train.targets.defined();
  t.classes = static_cast<int64_t>(splits.train.class_names.size());
  if (t.classes < 2) throw OptionError("data", " '" + config.data + "': needs at least two classes");
  // Model selection: on the validation split, or none (the validation series train too).
  t.use_validation = config.validation == "split" ||
                     (config.validation == "auto" && (splits.val.size() >= kMinValidationSeries || config.patience > 0));
  if (!t.use_validation && splits.val.size() > 0) {
    splits.train = data::concatenate(splits.train, splits.val);
    splits.val = splits.val.subset(torch::zeros({0}, torch::kLong));
  }
  for (const auto* d : {&splits.train, &splits.val, &splits.test}) {
    if (d == &splits.val && !t.use_validation) continue;
    if (d->size() == 0) throw OptionError("data", " '" + config.data + "': the " + d->name + " split is empty");
  }
  if (!config.positive.empty()) {
    auto it = std::find(splits.train.class_names.begin(), splits.train.class_names.end(), config.positive);
    if (it == splits.train.class_names.end() || t.classes != 2 || t.multi_label) {
      throw OptionError("positive", " '" + config.positive + "': not one of the two classes of this binary task");
    }
    t.positive = it - splits.train.class_names.begin();
  }
  t.select = config.select != "auto" ? config.select : t.multi_label ? "auc" : "macro_f1";
  t.train = splits.train.subset(label_subset(splits.train.y, config.labels, config.seed));
  if (t.train.size() < 2) throw OptionError("labels", " keeps fewer than two training samples");
  return t;
}

/// The pre-trained (or, for the supervised baseline, a fresh) encoder and a new head, on `device`.
Classifier make_classifier(const FinetuneConfig& config, int64_t channels, int64_t classes, const torch::Device& device) {
  Classifier m;
  if (config.encoder.empty()) {
    m.encoder = nn::ResNet1d(nn::ResNet1dOptions(channels).width(config.width));
  } else {
    m.encoder = load_encoder(config.encoder);
    if (m.encoder->options.in_channels() != channels) {
      throw OptionError("encoder", " " + config.encoder + ": pre-trained on " +
                                       std::to_string(m.encoder->options.in_channels()) + " channel(s), the data has " +
                                       std::to_string(channels));
    }
  }
  m.head = torch::nn::Linear(m.encoder->output_dim(), classes);
  m.encoder->to(device);
  m.head->to(device);
  if (config.linear) {
    for (auto& p : m.encoder->parameters()) p.requires_grad_(false);
  }
  return m;
}

/// Loss weights: inverse class frequency N / (K n_c), or pos_weight = neg / pos
/// per label; undefined without class_weights.
torch::Tensor loss_weights(const FinetuneConfig& config, const TaskData& t, const torch::Device& device) {
  if (!config.class_weights) return {};
  const auto& train = t.train;
  if (t.multi_label) {
    auto pos = train.targets.sum(0).clamp_min(1);
    return ((train.size() - pos) / pos).to(device, torch::kFloat);
  }
  auto counts = torch::bincount(train.y, {}, t.classes).to(torch::kFloat).clamp_min(1);
  return (static_cast<double>(train.size()) / (t.classes * counts)).to(device);
}

/// This rank's rows [first, end) of a global batch of `global` rows.
struct Shard {
  int64_t first, end, global;
};

/// The batches of an epoch, as positions in its shuffled order. Data-parallel:
/// the same order on every rank; each global batch of W B rows is split into W
/// near-equal, disjoint shards, one per rank. A lone sample breaks
/// training-mode BatchNorm: every rank skips such a batch alike.
std::vector<Shard> plan_shards(int64_t samples, int64_t batch_size, int W, int rank, bool linear) {
  std::vector<Shard> shards;
  const int64_t global_batch = batch_size * W;
  for (int64_t i = 0; i < samples; i += global_batch) {
    const int64_t n = std::min(global_batch, samples - i);
    if (n / W >= 2 || linear) shards.push_back({i + n * rank / W, i + n * (rank + 1) / W, n});
  }
  return shards;
}

// ---------------------------------------------------------------------------
// The loop: one epoch of training.

/// The state of a fine-tuning run between epochs.
struct Training {
  const FinetuneConfig& config;
  const TaskData& task;
  Classifier& m;
  torch::optim::Adam& optimizer;
  const std::vector<torch::Tensor>& params;
  std::vector<torch::Tensor> encoder_buffers;
  torch::Tensor weight;
  std::vector<Shard> shards;
  dist::Communicator* comm;
  int W;
  torch::Device device;
  int64_t total_steps, warmup_steps;
  bool recompute_bn;
  std::mt19937_64 generator;
  int64_t step = 0;

  /// One epoch over the training split; returns the mean training loss.
  double epoch(bool last) {
    const auto& train = task.train;
    m.encoder->train(!config.linear);  // frozen features: BatchNorm statistics stay as pre-trained
    m.head->train();
    std::vector<int64_t> order(train.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), generator);
    auto perm = torch::tensor(order, torch::kLong);
    torch::Tensor total = torch::zeros({}, torch::TensorOptions().device(device));
    for (const auto& [first, end, n] : shards) {
      auto ix = perm.slice(0, first, end);
      auto x = train.x.index_select(0, ix).to(device);
      auto logits = m.head(m.encoder(x));
      torch::Tensor loss;
      if (task.multi_label) {
        auto t = train.targets.index_select(0, ix).to(device, torch::kFloat);
        loss = torch::binary_cross_entropy_with_logits(logits, t, {}, weight.defined() ? weight : torch::Tensor());
      } else {
        auto y = train.y.index_select(0, ix).to(device);
        loss = torch::nn::functional::cross_entropy(
            logits, y, torch::nn::functional::CrossEntropyFuncOptions().weight(weight.defined() ? weight : torch::Tensor()));
      }
      const double rate = config.lr * engine::lr_factor(config.schedule, step++, total_steps, warmup_steps);
      for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(rate);
      optimizer.zero_grad();
      if (comm) {
        // Weighted so that the average over ranks is the global batch's mean loss.
        (loss * (static_cast<double>(end - first) * W / n)).backward();
        comm->average_gradients(params, 25 << 20);
      } else {
        loss.backward();
      }
      optimizer.step();
      // As PyTorch's DistributedDataParallel: rank 0's BatchNorm statistics win.
      if (comm && !(config.sync_batchnorm && !config.linear)) comm->broadcast_from_root(encoder_buffers);
      total += loss.detach() * (static_cast<double>(end - first) * W / n);
    }
    if (comm) comm->all_reduce_sum(total);
    // Without validation the statistics are only used after the last epoch
    // (they are recomputed from scratch, so skipping the others changes nothing).
    if (recompute_bn && (task.use_validation || last)) {
      // The training batches of this epoch again (every rank the same number,
      // as SyncBatchNorm's gathers need).
      torch::NoGradGuard no_grad;
      m.encoder->train();
      nn::recompute_batchnorm_statistics(
          *m.encoder,
          [&](int64_t b) { m.encoder(train.x.index_select(0, perm.slice(0, shards[b].first, shards[b].end)).to(device)); },
          static_cast<int64_t>(shards.size()));
      if (comm && !config.sync_batchnorm) comm->broadcast_from_root(encoder_buffers);
    }
    const auto steps = static_cast<int64_t>(shards.size());
    return steps ? total.item<double>() / (steps * W) : std::nan("");
  }

  /// The learning rate of the last step taken.
  double last_rate() const {
    return config.lr * engine::lr_factor(config.schedule, std::max<int64_t>(0, step - 1), total_steps, warmup_steps);
  }
};

// ---------------------------------------------------------------------------
// Writers: the run directory's results.

void write_model(const fs::path& run_dir, Classifier& m) {
  torch::serialize::OutputArchive a;
  torch::serialize::OutputArchive enc, head;
  m.encoder->save(enc);
  m.head->save(head);
  a.write("encoder", enc);
  a.write("head", head);
  io::save_archive(run_dir / "model.pt", a);
}

void write_test_predictions(const fs::path& run_dir, const torch::Tensor& probs, const data::Dataset& test,
                            const std::vector<std::string>& class_names) {
  std::ostringstream f;
  f << "index,label";
  for (const auto& c : class_names) f << ",p_" << c;
  f << "\n" << std::setprecision(6);
  for (int64_t i = 0; i < probs.size(0); ++i) {
    f << i << "," << test.y[i].item<int64_t>();
    for (int64_t k = 0; k < probs.size(1); ++k) f << "," << probs[i][k].item<double>();
    f << "\n";
  }
  io::write_file(run_dir / "test_predictions.csv", f.str());
}

void report_result(std::ostream& progress, const FinetuneResult& result, bool use_validation) {
  if (use_validation) {
    progress << "selected epoch " << result.best_epoch << " (validation " << result.select << " "
             << format_metric(result.val.get(result.select)) << "); test:";
  } else {
    progress << "kept the last epoch (" << result.best_epoch << "); test:";
  }
  for (const char* n : {"accuracy", "macro_f1", "auc", "sensitivity", "specificity"}) {
    if (!std::isnan(result.test.get(n))) progress << " " << n << " " << format_metric(result.test.get(n));
  }
  progress << "\n";
}

}  // namespace

FinetuneResult finetune(const FinetuneConfig& config, const fs::path& run_dir, std::ostream* progress,
                        std::shared_ptr<dist::Communicator> comm) {
  config.validate();
  const int rank = comm ? comm->rank() : 0, W = comm ? comm->size() : 1;
  const bool writer = rank == 0;  // rank 0 alone writes the run directory and evaluates the test split
  if (!writer) progress = nullptr;
  check_finetune_dir(run_dir);
  auto device = resolve_device(config.device);
  if (comm && device.is_cuda() && !device.has_index()) {
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(comm->world().local_rank));
  }
  const auto start = std::chrono::steady_clock::now();
  torch::manual_seed(config.seed);
  const TaskData task = load_task(config);
  const auto& splits = task.splits;
  Classifier m = make_classifier(config, task.train.channels(), task.classes, device);
  std::vector<torch::Tensor> params = m.head->parameters();
  if (!config.linear) {
    auto e = m.encoder->parameters();
    params.insert(params.end(), e.begin(), e.end());
  }
  torch::optim::Adam optimizer(params, torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay));
  Training training{config, task, m, optimizer, params, m.encoder->buffers(), {}, {}, comm.get(), W, device, 0, 0, false,
                    std::mt19937_64(config.seed + 1)};
  if (comm) {
    // Every rank starts from rank 0's head (and encoder, for the supervised baseline).
    auto state = m.encoder->parameters();
    for (auto& p : m.head->parameters()) state.push_back(p);
    for (auto& b : training.encoder_buffers) state.push_back(b);
    comm->broadcast_from_root(state);
    if (config.sync_batchnorm && !config.linear) {
      auto* c = comm.get();
      nn::sync_batchnorm(*m.encoder, [c](const torch::Tensor& t) { return dist::all_gather_with_grad(t, *c); });
    }
  }
  training.weight = loss_weights(config, task, device);
  training.shards = plan_shards(task.train.size(), config.batch_size, W, rank, config.linear);
  const int64_t steps_per_epoch = static_cast<int64_t>(training.shards.size());
  int64_t epochs = config.epochs;
  if (config.min_steps > 0 && steps_per_epoch > 0 && epochs * steps_per_epoch < config.min_steps) {
    epochs = (config.min_steps + steps_per_epoch - 1) / steps_per_epoch;
  }
  training.total_steps = epochs * steps_per_epoch;
  training.warmup_steps = static_cast<int64_t>(std::llround(config.warmup * static_cast<double>(training.total_steps)));
  training.recompute_bn = !config.linear && (config.bn_stats == "recompute" ||
                                             (config.bn_stats == "auto" && steps_per_epoch <= kRecomputeBatchNormMaxSteps));
  if (progress) {
    *progress << "fine-tuning " << epochs << " epochs of " << steps_per_epoch << " step(s)"
              << (epochs != config.epochs ? " (min-steps " + std::to_string(config.min_steps) + ")" : "") << ", "
              << config.schedule << " learning rate; "
              << (task.use_validation ? "the best epoch on " + std::to_string(splits.val.size()) + " validation series"
                                      : "no validation split (" + std::to_string(splits.train.size()) +
                                            " training series), the last epoch kept")
              << "\n";
  }

  std::unique_ptr<io::DirLock> lock;
  std::unique_ptr<io::JsonLinesLog> log;
  if (writer) {
    lock = std::make_unique<io::DirLock>(run_dir, "run directory");
    check_finetune_dir(run_dir);  // again, under the lock
    json cfg = config.to_json();
    cfg["resolved"] = {{"select", task.select},
                       {"train_samples", task.train.size()},
                       {"val_samples", splits.val.size()},
                       {"test_samples", splits.test.size()},
                       {"class_names", splits.train.class_names},
                       {"multi_label", task.multi_label},
                       {"bn_stats", training.recompute_bn ? "recompute" : "running"},
                       {"steps_per_epoch", steps_per_epoch},
                       {"epochs", epochs},
                       {"total_steps", training.total_steps},
                       {"validation", task.use_validation ? "split" : "none"},
                       {"data", data::absolute_spec(config.data)},
                       {"device", device.str()},
                       {"world_size", W},
                       {"libtorch", TORCH_VERSION}};
    io::write_file(run_dir / "config.json", cfg.dump(2) + "\n");
    log = std::make_unique<io::JsonLinesLog>(run_dir / "log.jsonl");
    log->filter([](const json&) { return false; });  // a restarted run starts its log again
  }

  FinetuneResult result;
  result.select = task.select;
  result.class_names = splits.train.class_names;
  double best = -std::numeric_limits<double>::infinity();
  std::vector<torch::Tensor> best_state = state_of(m);
  int64_t since_best = 0;
  auto validate = [&] { return evaluate(predict(m, splits.val.x, task.multi_label, device, 256), splits.val, task.multi_label, task.positive); };
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    const double train_loss = training.epoch(epoch == epochs);
    eval::Metrics val;
    double score = std::nan("");
    bool improved = !task.use_validation;  // without validation: every epoch replaces the last
    if (task.use_validation) {
      val = validate();
      score = val.get(task.select);
      improved = !std::isnan(score) && score > best;
    }
    if (improved) {
      best = score;
      if (task.use_validation) best_state = state_of(m);  // without validation the last state is taken at the end
      result.best_epoch = epoch;
      result.val = val;
      since_best = 0;
    } else {
      ++since_best;
    }
    result.epochs_run = epoch;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (log) {
      json record{{"epoch", epoch}, {"train_loss", train_loss}, {"selected", improved}, {"seconds", seconds}};
      if (task.use_validation) record["val"] = val.to_json(result.class_names);
      record["lr"] = training.last_rate();
      log->append(record);
    }
    if (progress) {
      *progress << "epoch " << epoch << "/" << epochs << "  train loss " << format_metric(train_loss);
      if (task.use_validation) *progress << "  val " << task.select << " " << format_metric(score) << (improved ? "  *" : "");
      *progress << "\n";
    }
    if (config.patience > 0 && since_best >= config.patience) break;
  }
  if (!task.use_validation) {
    result.best_epoch = result.epochs_run;
  } else if (result.best_epoch == 0) {  // the metric was undefined on validation every epoch: keep the last
    result.best_epoch = result.epochs_run;
    best_state = state_of(m);
    result.val = validate();
  }
  if (task.use_validation) restore(m, best_state);
  if (!writer) {
    // Every rank validated the same weights alike and selected the same epoch;
    // rank 0 alone evaluates the test split and writes the results.
    comm->barrier();
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }

  // The test split, once, with the selected weights.
  const auto probs = predict(m, splits.test.x, task.multi_label, device, 256);
  result.test = evaluate(probs, splits.test, task.multi_label, task.positive);
  eval::add_bootstrap_intervals(
      result.test, splits.test.size(),
      [&](const torch::Tensor& ix) {
        auto d = splits.test.subset(ix);
        return evaluate(probs.index_select(0, ix), d, task.multi_label, task.positive);
      },
      config.bootstrap, config.seed);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_model(run_dir, m);
  write_test_predictions(run_dir, probs, splits.test, result.class_names);
  io::write_file(run_dir / "metrics.json", result.to_json().dump(2) + "\n");
  if (progress) report_result(*progress, result, task.use_validation);
  if (comm) comm->barrier();
  return result;
}

json read_finetune_result(const fs::path& run_dir) {
  std::ifstream f(run_dir / "metrics.json");
  if (!f) throw std::invalid_argument(run_dir.string() + ": no metrics.json (the run did not finish)");
  auto j = json::parse(f, nullptr, false);
  if (j.is_discarded()) throw std::invalid_argument((run_dir / "metrics.json").string() + ": corrupt");
  return j;
}

}  // namespace leaves::train
