#include "leaves/train/options.h"

#include <cstdlib>
#include <iomanip>
#include <sstream>

#include "leaves/train/finetune.h"
#include "leaves/train/pretrain.h"

namespace leaves::options {

using nlohmann::json;

std::string Spec::flag(bool default_true) const {
  std::string f = name;
  for (auto& ch : f)
    if (ch == '_') ch = '-';
  return (default_true ? "--no-" : "--") + f;
}

namespace {

// The shortest text that reads back as `v` ("0.001", "1048576", "1e-05").
std::string number_text(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  for (int digits = 1; digits <= 17; ++digits) {
    std::ostringstream s;
    s << std::setprecision(digits) << v;
    if (std::strtod(s.str().c_str(), nullptr) == v) return s.str();
  }
  return std::to_string(v);
}

}  // namespace

std::string Spec::range_text() const {
  if (!choices.empty()) {
    std::string s;
    for (const auto& c : choices) s += (s.empty() ? "" : " | ") + c;
    return s;
  }
  if (min && max) {
    return min_exclusive ? "in (" + number_text(*min) + ", " + number_text(*max) + "]"
                         : number_text(*min) + " to " + number_text(*max);
  }
  if (min) return (min_exclusive ? "> " : ">= ") + number_text(*min);
  if (max) return "<= " + number_text(*max);
  return "";
}

void check_value(const Spec& s, const json& v) {
  if (!s.choices.empty()) {
    const auto text = v.is_string() ? v.get<std::string>() : v.dump();
    for (const auto& c : s.choices)
      if (c == text) return;
    throw OptionError(s.name, " must be one of " + s.range_text() + ", got '" + text + "'");
  }
  if (!v.is_number()) return;
  const double x = v.get<double>();
  const bool below = s.min && (s.min_exclusive ? !(x > *s.min) : !(x >= *s.min));
  const bool above = s.max && !(x <= *s.max);
  if (below || above || !std::isfinite(x)) {
    const std::string range = s.min && s.max && !s.min_exclusive
                                  ? "between " + number_text(*s.min) + " and " + number_text(*s.max)
                                  : s.range_text();
    throw OptionError(s.name, " must be " + range + ", got " + argument_text(v));
  }
}

std::string argument_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return number_text(v.get<double>());
  return v.dump();
}

std::string markdown_cell(const std::string& s) {
  std::string out;
  for (char ch : s) out += ch == '|' ? std::string("\\|") : std::string(1, ch);
  return out;
}

namespace {

// Builders for the declarations below.
Spec number(std::string name, std::string help, std::optional<double> min = {}, bool exclusive = false,
            std::optional<double> max = {}) {
  Spec s;
  s.name = std::move(name);
  s.help = std::move(help);
  s.min = min;
  s.min_exclusive = exclusive;
  s.max = max;
  return s;
}
Spec positive(std::string name, std::string help) { return number(std::move(name), std::move(help), 0.0, true); }
Spec at_least(std::string name, double min, std::string help, std::optional<double> max = {}) {
  return number(std::move(name), std::move(help), min, false, max);
}
Spec text(std::string name, std::string help, std::vector<std::string> choices = {}) {
  Spec s;
  s.name = std::move(name);
  s.type = Type::Text;
  s.help = std::move(help);
  s.choices = std::move(choices);
  return s;
}
Spec flag(std::string name, std::string help) {
  Spec s;
  s.name = std::move(name);
  s.type = Type::Flag;
  s.help = std::move(help);
  return s;
}
Spec recorded(Spec s) {
  s.cli = false;
  return s;
}

const std::vector<std::string> kSchedules{"cosine", "constant"};
const std::vector<std::string> kMetricChoices{"auto", "accuracy", "macro_f1", "auc", "sensitivity", "specificity"};

}  // namespace

const Schema<views::GeneratorConfig>& generator_schema() {
  using G = views::GeneratorConfig;
  static const Schema<G> schema = [] {
    Schema<G> s;
    s.add(recorded(text("kind", "view generator of the method (set from method)", {"leaves", "viewmaker", "random"})),
          &G::kind);
    s.add(recorded(at_least("channels", 1, "input channels (set from the data)")), &G::channels);
    s.add(positive("eta", "LEAVES: bound of the magnitude sigmas"), &G::eta);
    s.add(at_least("mixture_components", 1, "LEAVES: time-distortion mixture components M"), &G::mixture_components);
    s.add(at_least("max_segments", 1, "permutation: maximum segments K"), &G::max_segments);
    s.add(at_least("knots", 2, "magnitude and time warp knots"), &G::knots);
    s.add(text("interpolation", "warp curves between the knots", {"linear", "cubic"}), &G::interpolation);
    s.add(flag("per_channel", "one time warp / distortion per channel instead of per sample"), &G::per_channel);
    s.add(flag("normalize", "LEAVES: min-max normalise each view channel to [0, 1]"), &G::normalize);
    s.add(text("perm_estimator",
               "LEAVES: the permutation's gradient estimator: a relaxed categorical over the segment count, the paper's "
               "relaxed Bernoulli cuts (A.2, t = 0.01), or straight-through (augment/permutation.h)",
               {"relaxed", "relaxed-bernoulli", "straight-through"}),
          &G::perm_estimator);
    s.add(text("sampling", "LEAVES: how the time distortion draws from its Gaussian mixture", {"ancestral", "inverse-cdf"}),
          &G::sampling);
    s.add(at_least("sigma", 0, "random baseline (simclr): shared sigma of T(sigma)"), &G::sigma);
    s.add(positive("budget", "ViewMaker: L1 distortion budget"), &G::budget);
    return s;
  }();
  return schema;
}

const Schema<train::PretrainConfig>& pretrain_schema() {
  using C = train::PretrainConfig;
  static const Schema<C> schema = [] {
    Schema<C> s;
    s.add(text("data", "data spec or prepared directory: synthetic[:size=N,...], ucr:DIR, uea:DIR, arrays:X.npy,..., "
                       "apnea-ecg:DIR, ... (README: Data)"),
          &C::data);
    s.add(text("method", "view generator: leaves (learned, adversarial) | simclr (random T(sigma)) | viewmaker",
               {"leaves", "simclr", "viewmaker"}),
          &C::method);
    s.add(at_least("epochs", 1, "training epochs"), &C::epochs);
    s.add(at_least("min_steps", 0, "train at least this many optimizer steps: more epochs on a small set (0: epochs alone)"),
          &C::min_steps);
    s.add(at_least("batch_size", 2, "pairs per step (B; NT-Xent needs two for negatives)", double(1 << 20)), &C::batch_size);
    s.add(positive("lr", "encoder and projection-head learning rate (Adam)"), &C::lr);
    s.add(at_least("generator_lr", 0, "view-generator learning rate (Adam); 0: auto, 10 / the run's steps within [1e-3, 0.1]"),
          &C::generator_lr);
    s.add(text("schedule", "learning-rate schedule after the warm-up", kSchedules), &C::schedule);
    s.add(at_least("warmup", 0, "linear warm-up over this fraction of the steps", 0.99), &C::warmup);
    s.add(at_least("weight_decay", 0, "encoder and head weight decay (decoupled, AdamW)"), &C::weight_decay);
    s.add(positive("tau", "NT-Xent temperature (paper: 0.05)"), &C::tau);
    s.nest(generator_schema(), &C::views, "views");
    s.add(at_least("width", 1, "encoder first-stage width (64: the paper's ResNet-18, 512-d)", 4096), &C::width);
    s.add(at_least("projection_hidden", 0, "projection-head hidden width (0: linear head)", double(1 << 16)),
          &C::projection_hidden);
    s.add(at_least("projection_dim", 1, "projection-head output width", double(1 << 16)), &C::projection_dim);
    s.add(text("device", "cpu | cuda | cuda:N"), &C::device);
    s.add(at_least("seed", 0, "random seed (initialisation, batches, views)"), &C::seed);
    s.add(at_least("checkpoint_every", 0, "also keep a checkpoint every N epochs (0: last only)"), &C::checkpoint_every);
    s.add(flag("sync_batchnorm", "data-parallel: BatchNorm statistics over the global batch (default: each worker's own)"),
          &C::sync_batchnorm);
    s.add(at_least("bucket_mb", 1, "data-parallel: gradient all-reduce bucket size (MiB)", 4096), &C::bucket_mb);
    s.add(text("precision", "encoder arithmetic: bf16 (autocast, fp32 master weights), fp32, or auto (bf16 on CUDA)",
               {"auto", "bf16", "fp32"}),
          &C::precision);
    s.add(flag("cuda_graphs", "CUDA: replay the whole step as a CUDA graph (off: every step eagerly)"), &C::cuda_graphs);
    s.add(flag("cudnn_benchmark", "CUDA: cuDNN autotuning (off: reproducible algorithms)"), &C::cudnn_benchmark);
    s.add(text("layout", "encoder memory layout; auto: channels-last on CUDA", {"auto", "channels-last", "channels-first"}),
          &C::layout);
    s.add(text("cpu_conv",
               "CPU: the encoder's convolutions as matrix products on the BLAS (blas: Winograd F(4,3) and im2col), by "
               "LibTorch (torch: oneDNN), or auto (blas if the BLAS is fast)",
               {"auto", "blas", "torch"}),
          &C::cpu_conv);
    s.add(text("cpu_norm", "CPU: BatchNorm + residual add + LeakyReLU as one fused kernel, or LibTorch's separate ops",
               {"fused", "torch"}),
          &C::cpu_norm);
    s.add(text("gpu_norm", "CUDA: BatchNorm + residual + LeakyReLU and the stem as leaves' own fused kernels, or cuDNN's "
                           "and LibTorch's ops",
               {"fused", "torch"}),
          &C::gpu_norm);
    s.add(text("conv_bias", "convolution biases in training: fold (absorbed exactly by the next BatchNorm) or apply",
               {"fold", "apply"}),
          &C::conv_bias);
    s.add(text("cl_conv", "channels-last convolutions: LibTorch's (cuDNN on CUDA) or im2col matrix products (gemm)",
               {"torch", "gemm"}),
          &C::cl_conv);
    return s;
  }();
  return schema;
}

const Schema<train::FinetuneConfig>& finetune_schema() {
  using C = train::FinetuneConfig;
  static const Schema<C> schema = [] {
    Schema<C> s;
    s.add(text("data", "data spec or prepared directory (as for pretrain)"), &C::data);
    s.add(text("encoder", "a pre-training run directory (holding encoder.pt)"), &C::encoder);
    s.add(flag("linear", "train the head only, on frozen features (linear probe)"), &C::linear);
    s.add(number("labels", "fraction of the training labels used (stratified, seeded): 0.01, 0.1, 1.0", 0.0, true, 1.0),
          &C::labels);
    s.add(flag("class_weights", "weight the loss by inverse class frequency"), &C::class_weights);
    s.add(at_least("epochs", 1, "fine-tuning epochs (paper: 30; PAMAP2 20)"), &C::epochs);
    s.add(at_least("min_steps", 0, "train at least this many optimizer steps: more epochs on a small set (0: epochs alone)"),
          &C::min_steps);
    s.add(positive("lr", "learning rate (Adam)"), &C::lr);
    s.add(at_least("weight_decay", 0, "weight decay (decoupled, AdamW)"), &C::weight_decay);
    s.add(text("schedule", "learning-rate schedule after the warm-up", kSchedules), &C::schedule);
    s.add(at_least("warmup", 0, "linear warm-up over this fraction of the steps", 0.99), &C::warmup);
    s.add(at_least("batch_size", 2, "batch size (BatchNorm needs two samples)", double(1 << 20)), &C::batch_size);
    s.add(text("validation",
               "model selection: split (the best epoch on the validation split) | none (validation series train too, "
               "the last epoch is kept) | auto (none under " +
                   std::to_string(train::kMinValidationSeries) + " validation series)",
               {"auto", "split", "none"}),
          &C::validation);
    s.add(text("select", "validation metric for model selection (auto: auc multi-label, macro_f1 otherwise)",
               kMetricChoices),
          &C::select);
    s.add(at_least("patience", 0, "stop after N epochs without validation improvement (0: off)"), &C::patience);
    s.add(text("positive", "binary tasks: the positive class by name (default: the second class)"), &C::positive);
    s.add(at_least("width", 1, "supervised baseline: ResNet-18 1D first-stage width (64: the paper's)", 4096), &C::width);
    s.add(at_least("bootstrap", 0, "bootstrap resamples for the test 95% intervals (0: none)"), &C::bootstrap);
    s.add(text("device", "cpu | cuda | cuda:N"), &C::device);
    s.add(at_least("seed", 0, "random seed (head initialisation, batches, label subset)"), &C::seed);
    s.add(flag("sync_batchnorm", "data-parallel: BatchNorm statistics over the global batch"), &C::sync_batchnorm);
    s.add(text("bn_stats",
               "encoder BatchNorm statistics for evaluation: running (averages kept in training) | recompute (from the "
               "training split, for the current weights) | auto (recompute when an epoch has at most " +
                   std::to_string(train::kRecomputeBatchNormMaxSteps) + " steps)",
               {"auto", "running", "recompute"}),
          &C::bn_stats);
    return s;
  }();
  return schema;
}

std::string flag_of(const std::string& key) {
  const auto dot = key.rfind('.');
  const std::string name = dot == std::string::npos ? key : key.substr(dot + 1);
  if (const auto* o = pretrain_schema().find(name)) return o->spec.flag(o->get(train::PretrainConfig()) == json(true));
  if (const auto* o = finetune_schema().find(name)) return o->spec.flag(o->get(train::FinetuneConfig()) == json(true));
  Spec other;  // an option of a command without a schema: the same spelling
  other.name = name;
  return other.flag();
}

}  // namespace leaves::options
