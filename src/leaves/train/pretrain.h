// Adversarial contrastive pre-training (paper section 3.2).
//
// One step on a batch X `[B, C, L]`: both views come from the same generator
// with independent randomness, V = G([X; X]) `[2B, C, L]`; one forward pass
// z = head(encoder(V)); L = NT-Xent(z[:B], z[B:], tau). One backward pass gives
// dL for everything; the generator's gradients are then negated, so that its
// optimizer (Adam) ascends L while the encoder's and head's (Adam) descend it.
// This is the same min-max as the reference code's two backward passes, at
// half the cost. With the random-augmentation generator (method simclr) there
// is no adversary.
//
// Data-parallel (a Communicator given): every rank draws its own B rows of the
// same global batch of W B rows (seeded, disjoint), makes its views, gathers
// the projections of all ranks (gradients flow back to each rank's shard) and
// owns the NT-Xent rows of its samples against all 2 W B embeddings, so the
// mean of the ranks' losses is the single-process loss of the global batch.
// Gradients (encoder, head, generator) are averaged in buckets before the
// optimizers step, so all ranks keep identical parameters; BatchNorm buffers
// are broadcast from rank 0 after each step, or synchronised on the fly with
// `sync_batchnorm`.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "leaves/dist/dist.h"
#include "leaves/nn/heads.h"
#include "leaves/nn/resnet1d.h"
#include "leaves/engine/flat_adam.h"
#include "leaves/engine/step_graph.h"
#include "leaves/views/factory.h"

namespace leaves::train {

struct PretrainConfig {
  std::string data = "synthetic";  ///< data spec (see leaves/data/spec.h)
  std::string method = "leaves";   ///< leaves | simclr | viewmaker
  int64_t epochs = 10;
  /// The fewest optimizer steps a run takes: when `epochs` epochs give fewer
  /// (a set of a few dozen series gives one step per epoch), the run lasts
  /// ceil(min_steps / steps per epoch) epochs instead; config.json records the
  /// epochs run as `epochs` and the request as `epochs_requested`. A large set
  /// is not touched (the paper's 100 epochs are thousands of steps there).
  /// 0: epochs alone.
  int64_t min_steps = 1000;
  int64_t batch_size = 64;
  double lr = 1e-3;            ///< encoder + projection head (Adam; AdamW with weight_decay)
  /// View generator (Adam). 0 = auto: 10 / the run's steps within [1e-3, 0.1]. The
  /// intensities are eta * sigmoid(raw) with raw starting at 0, and an Adam
  /// step moves raw by about lr: the paper's 1e-3 over its runs of 10^4 steps
  /// lets raw travel 10 or more, but over the 10^2-10^3 steps of a small set
  /// at most 0.1-1, so the learned parameters cannot leave their start
  /// (measured: within 3 % after 100 steps). Auto keeps the paper's value
  /// from 10^4 steps on and gives shorter runs the same reach (10).
  /// config.json records the value used.
  double generator_lr = 0;
  /// Learning-rate schedule of encoder, head and generator alike (a min-max
  /// game annealed together): "cosine" (warm-up, then half a cosine to 0 at
  /// the last step) or "constant" (the paper's; after the warm-up).
  std::string schedule = "cosine";
  double warmup = 0.05;        ///< linear warm-up over this fraction of the run's steps
  double weight_decay = 1e-4;  ///< encoder and head, decoupled (AdamW); the generator has none
  double tau = 0.05;           ///< NT-Xent temperature (paper: 0.05)
  views::GeneratorConfig views;
  int64_t width = 64;             ///< ResNet-18 1D first-stage width (64: 512-d representation)
  int64_t projection_hidden = 512;
  int64_t projection_dim = 128;
  std::string device = "cpu";
  uint64_t seed = 0;
  int64_t checkpoint_every = 0;  ///< also keep checkpoints/epoch-NNNN.pt every N epochs (0: only last)
  /// Data-parallel runs: BatchNorm statistics over the global batch (SyncBatchNorm)
  /// instead of each rank's own (then rank 0's running statistics are broadcast).
  bool sync_batchnorm = false;
  int64_t bucket_mb = 25;  ///< data-parallel runs: gradient all-reduce bucket size (MiB)
  /// Encoder and head arithmetic: "bf16" (autocast: convolutions and matrix
  /// products in bfloat16, fp32 master weights, BatchNorm statistics, NT-Xent
  /// and optimizer state in fp32), "fp32", or "auto" (bf16 on CUDA, fp32 on the
  /// CPU). The augmentations always run in fp32: a 1 + 0.005 eps scale factor
  /// would be rounded to bfloat16's 8 bits.
  std::string precision = "auto";
  /// CUDA: record the whole step once as a CUDA graph and replay it (one
  /// process, default views). Ignored on the CPU.
  bool cuda_graphs = true;
  /// CUDA: let cuDNN time its convolution algorithms for the batch's shapes
  /// (faster; not bit-reproducible between runs).
  bool cudnn_benchmark = true;
  /// Encoder memory layout: "channels-last" (`[B, C, 1, L]`, channels
  /// innermost: cuDNN's tensor cores read that order), "channels-first"
  /// (`[B, C, L]`), or "auto" (channels-last on CUDA, channels-first on the CPU).
  /// Same parameters and arithmetic.
  std::string layout = "auto";
  /// CPU: how the encoder's convolutions run: "blas" (matrix products on the
  /// BLAS: Winograd F(4, 3) for the 3-tap stride-1 ones, half the
  /// multiplications; im2col for the others), "torch" (LibTorch's own,
  /// oneDNN), or "auto" (the BLAS paths when the BLAS is fast, Winograd from
  /// 16 input channels on; see engine/cpu_conv.h). fp32/fp64 only; ignored on
  /// CUDA and in bf16.
  std::string cpu_conv = "auto";
  /// CPU: each BatchNorm with its residual add and LeakyReLU as one fused
  /// kernel ("fused"), or as LibTorch's separate ops ("torch"). Same
  /// arithmetic; only the fp32/fp64 channels-first training case is fused.
  std::string cpu_norm = "fused";
  /// CUDA: the same fusion by leaves' own kernels on channels-last
  /// activations, and the stem's convolution + BatchNorm + LeakyReLU +
  /// max-pool as one kernel pair ("fused", engine/cuda/batchnorm_act.h; needs a
  /// build with them), or cuDNN's convolution and BatchNorm and LibTorch's
  /// separate ops ("torch", the default until the fused kernels are measured
  /// faster on the GPU).
  std::string gpu_norm = "torch";
  /// The encoder's convolution biases in training mode: "fold" (the
  /// BatchNorm that follows each convolution absorbs the bias exactly, so the
  /// convolution runs without it: one pass over its output fewer forward and
  /// one backward; engine::ConvBias) or "apply" (added
  /// and differentiated as LibTorch's modules do). The same network.
  std::string conv_bias = "fold";
  /// The channels-last layout's convolutions (the CUDA layout): LibTorch's
  /// ("torch": cuDNN on CUDA) or matrix products ("gemm": im2col and cuBLAS,
  /// engine/cl_conv.h; to be measured against cuDNN with `leaves bench conv`).
  std::string cl_conv = "torch";

  /// Throws std::invalid_argument naming the first bad option.
  void validate() const;
  /// For a training split of `steps_per_epoch` steps per epoch: raises
  /// `epochs` to meet `min_steps` and sets an auto `generator_lr`.
  void resolve_budget(int64_t steps_per_epoch);
  /// Whether the encoder runs in bf16 on `device` ("auto" resolved).
  bool mixed_precision(const torch::Device& device) const;
  /// The encoder's execution options on `device` (every "auto" resolved but cpu_conv's, which the encoder resolves per call).
  engine::ExecutionOptions execution(const torch::Device& device) const;
  /// Whether the encoder runs channels-last on `device` ("auto" resolved).
  bool channels_last(const torch::Device& device) const;
  nlohmann::json to_json() const;
  static PretrainConfig from_json(const nlohmann::json& j);
};

/// The view generator kind a method uses: leaves -> leaves, simclr -> random,
/// viewmaker -> viewmaker.
std::string generator_kind(const std::string& method);

/// "cpu", "cuda", "cuda:N"; throws std::invalid_argument when CUDA is asked for
/// and this LibTorch has none.
torch::Device resolve_device(const std::string& name);

/// The models and optimizers of one pre-training run.
class Pretrainer {
 public:
  /// Makes the two views of a batch from `both` = [X; X] `[2B, C, L]`; the
  /// default is the generator's forward pass (fresh randomness).
  using ViewFn = std::function<torch::Tensor(const torch::Tensor& both)>;

  /// `comm`: this rank's process group for a data-parallel run (null: one
  /// process). On CUDA with a bare "cuda" device, rank r uses cuda:LOCAL_RANK.
  Pretrainer(const PretrainConfig& config, int64_t in_channels, std::shared_ptr<dist::Communicator> comm = nullptr);

  /// One adversarial step on `batch` `[B, C, L]` (on `device()`); returns this
  /// rank's loss, detached, on the device (no host synchronisation).
  torch::Tensor step(const torch::Tensor& batch, const ViewFn& views = nullptr);
  /// The first half of a step: forward, backward and (data-parallel) gradient
  /// averaging, with the generator's gradients already negated; no update.
  torch::Tensor compute_gradients(const torch::Tensor& batch, const ViewFn& views = nullptr);
  /// The second half: the optimizers step (and BatchNorm buffers are broadcast).
  void apply_gradients();
  /// Follow the learning-rate schedule (config().schedule, warmup) over a run
  /// of `total_steps` steps; 0 (the default): the base rates throughout.
  void set_schedule(int64_t total_steps);
  /// The mean cosine similarity of the positive pairs' projections over the
  /// steps since the last call (how hard the views are), and resets the sum.
  /// Reads the device (one synchronisation).
  double take_positive_similarity();
  /// The loss on `batch` without any update (training-mode BatchNorm).
  torch::Tensor loss(const torch::Tensor& batch);

  /// Encoder, head and generator parameters, in that (fixed) order.
  std::vector<torch::Tensor> parameters() const;
  /// Their buffers (BatchNorm statistics), same order.
  std::vector<torch::Tensor> buffers() const;
  const std::shared_ptr<dist::Communicator>& communicator() const { return comm_; }
  int rank() const { return comm_ ? comm_->rank() : 0; }
  int world_size() const { return comm_ ? comm_->size() : 1; }

  /// Writes a checkpoint (models, optimizers, completed epochs, RNG state) atomically.
  void save_checkpoint(const std::filesystem::path& path, int64_t epochs_done) const;
  /// Restores a checkpoint; returns the completed epochs it holds.
  int64_t load_checkpoint(const std::filesystem::path& path);

  const torch::Device& device() const { return device_; }
  const PretrainConfig& config() const { return config_; }

  nn::ResNet1d encoder{nullptr};
  nn::ProjectionHead head{nullptr};
  std::shared_ptr<views::ViewGenerator> generator;
  /// Flat Adam (flat_adam.h): encoder + head, and the generator (null for
  /// generators without parameters).
  std::unique_ptr<engine::FlatAdam> encoder_optimizer, generator_optimizer;

  /// Whether the encoder runs in bf16 (PretrainConfig::precision resolved).
  bool mixed_precision() const { return mixed_precision_; }
  /// Whether step() replays a CUDA graph (after its warm-up steps).
  bool graph_captured() const { return graph_ && graph_->captured(); }

 private:
  torch::Tensor forward_loss(const torch::Tensor& batch, const ViewFn& views);
  torch::Tensor eager_step(const torch::Tensor& batch, const ViewFn& views);
  PretrainConfig config_;
  torch::Device device_;
  std::shared_ptr<dist::Communicator> comm_;
  bool mixed_precision_ = false;
  std::unique_ptr<engine::StepGraph> graph_;  // CUDA, one process
  int64_t total_steps_ = 0, steps_done_ = 0;
  torch::Tensor last_similarity_, similarity_sum_;  // device scalars
  int64_t similarity_steps_ = 0;
};

/// One epoch over `x` `[N, C, L]` (resident on the trainer's device): a seeded
/// permutation shared by all ranks (seed, epoch), global batches of W B rows of
/// which this rank takes its B, the last partial batch dropped; this rank's
/// views reseeded from (seed, epoch, rank). Returns the sum of this rank's step
/// losses on the device (no host synchronisation) and sets `steps`.
torch::Tensor train_epoch(Pretrainer& trainer, const torch::Tensor& x, uint64_t seed, int64_t epoch, int64_t* steps);

struct PretrainResult {
  int64_t epochs_done = 0;
  double last_loss = 0;
  std::filesystem::path run_dir, encoder_file;
  bool nothing_to_do = false;  ///< a resumed run that had already trained its epochs (nothing changed)
};

/// Throws std::invalid_argument unless `dir` may receive a new run: absent or
/// empty (a folder that holds anything else is never written into).
void check_new_run_dir(const std::filesystem::path& dir);

/// Runs pre-training into `run_dir` (which must not already hold a run), or
/// continues the run there when `resume` is set (its config.json is used; a
/// positive `resume_epochs` overrides the number of epochs). Writes config.json,
/// log.jsonl (one line per epoch), checkpoints/last.pt (+ every N epochs) and, at
/// the end, encoder.pt + encoder.json. Progress lines go to `progress` if given.
///
/// Data-parallel with `comm`: `batch_size` is per rank (the global batch is
/// W times it), every rank runs this call, rank 0 alone writes the run
/// directory, and every rank reads it on resume (it must be visible to all:
/// one machine, or a shared file system).
PretrainResult pretrain(const PretrainConfig& config, const std::filesystem::path& run_dir, std::ostream* progress,
                        std::shared_ptr<dist::Communicator> comm = nullptr);
PretrainResult resume_pretraining(const std::filesystem::path& run_dir, int64_t resume_epochs, std::ostream* progress,
                                  std::shared_ptr<dist::Communicator> comm = nullptr);

/// Loads the encoder a pre-training run wrote (encoder.pt + encoder.json).
nn::ResNet1d load_encoder(const std::filesystem::path& run_dir);

/// The view generator of a pre-training run as trained (config.json +
/// checkpoints/last.pt), on the CPU, for `in_channels` channels (its own).
/// Throws std::invalid_argument naming the run when it has no checkpoint.
std::shared_ptr<views::ViewGenerator> load_generator(const std::filesystem::path& run_dir, PretrainConfig* config = nullptr);

/// A view generator as a user names it, with its label for tables and figures.
struct NamedGenerator {
  std::string label;
  std::string method;  ///< leaves | simclr | viewmaker
  std::shared_ptr<views::ViewGenerator> generator;
};

/// The trained generator of a pre-training run, labelled by its method and
/// the run's folder name ("LEAVES (run-7)", "SimCLR T(0.03) (run-8)").
NamedGenerator trained_generator(const std::filesystem::path& run_dir, PretrainConfig* config = nullptr);

/// An untrained generator of `method` (leaves | simclr | viewmaker) with
/// `options` (its kind and channels set here) for `channels` channels
/// ("LEAVES, untrained", "SimCLR T(0.03), untrained": the sigma it draws with).
NamedGenerator untrained_generator(const std::string& method, int64_t channels, views::GeneratorConfig options = {});

}  // namespace leaves::train
