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
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "leaves/nn/heads.h"
#include "leaves/nn/resnet1d.h"
#include "leaves/views/factory.h"

namespace leaves::train {

struct PretrainConfig {
  std::string data = "synthetic";  ///< data spec (see leaves/data/spec.h)
  std::string method = "leaves";   ///< leaves | simclr | viewmaker
  int64_t epochs = 10;
  int64_t batch_size = 64;
  double lr = 1e-3;            ///< encoder + projection head (Adam)
  double generator_lr = 1e-3;  ///< view generator (Adam)
  double tau = 0.05;           ///< NT-Xent temperature (paper: 0.05)
  views::GeneratorConfig views;
  int64_t width = 64;             ///< ResNet-18 1D first-stage width (64: 512-d representation)
  int64_t projection_hidden = 512;
  int64_t projection_dim = 128;
  std::string device = "cpu";
  uint64_t seed = 0;
  int64_t checkpoint_every = 0;  ///< also keep checkpoints/epoch-NNNN.pt every N epochs (0: only last)

  /// Throws std::invalid_argument naming the first bad option.
  void validate() const;
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
  Pretrainer(const PretrainConfig& config, int64_t in_channels);

  /// One adversarial step on `batch` `[B, C, L]` (on `device()`); returns the
  /// loss, detached, on the device (no host synchronisation).
  torch::Tensor step(const torch::Tensor& batch);
  /// The loss on `batch` without any update (training-mode BatchNorm).
  torch::Tensor loss(const torch::Tensor& batch);

  /// Writes a checkpoint (models, optimizers, completed epochs, RNG state) atomically.
  void save_checkpoint(const std::filesystem::path& path, int64_t epochs_done) const;
  /// Restores a checkpoint; returns the completed epochs it holds.
  int64_t load_checkpoint(const std::filesystem::path& path);

  const torch::Device& device() const { return device_; }
  const PretrainConfig& config() const { return config_; }

  nn::ResNet1d encoder{nullptr};
  nn::ProjectionHead head{nullptr};
  std::shared_ptr<views::ViewGenerator> generator;
  std::unique_ptr<torch::optim::Adam> encoder_optimizer, generator_optimizer;

 private:
  torch::Tensor forward_loss(const torch::Tensor& batch);
  PretrainConfig config_;
  torch::Device device_;
};

struct PretrainResult {
  int64_t epochs_done = 0;
  double last_loss = 0;
  std::filesystem::path run_dir, encoder_file;
};

/// Runs pre-training into `run_dir` (which must not already hold a run), or
/// continues the run there when `resume` is set (its config.json is used; a
/// positive `resume_epochs` overrides the number of epochs). Writes config.json,
/// log.jsonl (one line per epoch), checkpoints/last.pt (+ every N epochs) and, at
/// the end, encoder.pt + encoder.json. Progress lines go to `progress` if given.
PretrainResult pretrain(const PretrainConfig& config, const std::filesystem::path& run_dir, std::ostream* progress);
PretrainResult resume_pretraining(const std::filesystem::path& run_dir, int64_t resume_epochs, std::ostream* progress);

/// Loads the encoder a pre-training run wrote (encoder.pt + encoder.json).
nn::ResNet1d load_encoder(const std::filesystem::path& run_dir);

/// The view generator of a pre-training run as trained (config.json +
/// checkpoints/last.pt), on the CPU, for `in_channels` channels (its own).
/// Throws std::invalid_argument naming the run when it has no checkpoint.
std::shared_ptr<views::ViewGenerator> load_generator(const std::filesystem::path& run_dir, PretrainConfig* config = nullptr);

}  // namespace leaves::train
