// The LoRA training loop of one rank: draws its shard of each global batch, runs the
// micro-steps (gradient accumulation), has the flat gradient reduced across ranks (one
// call per optimizer step), clips, and steps AdamW with the learning-rate schedule.
//
// Determinism: every random draw of a sample (which image, flip, timestep, noise, noise
// offset) comes from a CPU generator seeded by (seed, optimizer step, micro-step, global
// slot), where the global slot is rank * batch_per_rank + i. So the samples of a step do
// not depend on thread count, timing or how the global batch is split over ranks (2 ranks
// x batch b draw exactly what 1 rank x batch 2b draws), and resuming at step k replays
// exactly what an uninterrupted run would do from k.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/lora_network.h"
#include "farm/sd/tensor_map.h"
#include "farm/sd/train_step.h"

namespace farm::sd {

struct TrainerOptions {
  int64_t max_steps = 1600;  // optimizer steps
  int64_t batch_per_rank = 1;
  int64_t gradient_accumulation = 4;
  double unet_lr = 1e-4;
  double text_encoder_lr = 5e-5;
  AdamWOptions adamw;
  double max_grad_norm = 1.0;  // 0 disables clipping
  // "constant", "constant_with_warmup", "linear", "cosine" (diffusers get_scheduler).
  std::string lr_scheduler = "constant";
  int64_t warmup_steps = 0;
  double noise_offset = 0;    // kohya --noise_offset
  double min_snr_gamma = 0;   // kohya --min_snr_gamma; 0 = off
  int clip_skip = 1;
  bool flip = false;          // random horizontal flips (needs flipped latents)
  uint64_t seed = 0;
  int64_t num_train_timesteps = 1000;
};

// One prepared image: its cached VAE latent (already scaled by the VAE factor), the
// latent of its mirror image (when flips are on) and its caption's token ids [77].
struct TrainExample {
  at::Tensor latent;       // [4, h, w] float32
  at::Tensor latent_flip;  // same shape, or undefined
  at::Tensor input_ids;    // [77] int64
};

struct StepStats {
  int64_t step = 0;        // optimizer steps done after this one (1-based)
  double loss = 0;         // this rank's mean loss over its micro-steps
  double lr_unet = 0, lr_text_encoder = 0;
  double grad_norm = 0;    // after the reduction, before clipping (the same on every rank)
  double clip_coef = 1;
};

// Reduces the flat gradient across ranks in place (mean); identity for one rank.
using GradientReducer = std::function<Status(const at::Tensor& flat_grads)>;

// The base learning rate times the schedule's factor at optimizer step `step` (0-based).
double ScheduledLearningRate(const TrainerOptions& options, double base_lr, int64_t step);

// Whether the schedule depends on max_steps (then checkpoints of one run are not the
// same as runs that stop at those steps).
bool ScheduleDependsOnTotalSteps(const std::string& lr_scheduler);

// The index of the example that global sample `sequence` draws: an independent random
// permutation of the dataset per epoch (seeded by seed and epoch).
int64_t ExampleForSequence(uint64_t seed, int64_t sequence, int64_t dataset_size);

class LoraTrainer {
 public:
  // The models must have the network attached (LoraNetwork::Attach). `rank`/`world_size`
  // pick this process's slots of each global batch.
  static StatusOr<std::unique_ptr<LoraTrainer>> Create(const UNet* unet, const ClipTextModel* text_encoder,
                                                       LoraNetwork* network, TrainerOptions options,
                                                       std::vector<TrainExample> examples, int rank,
                                                       int world_size);

  // One optimizer step. A non-finite loss or gradient stops with FailedPrecondition naming
  // the step; the weights are then left as they were before this step.
  StatusOr<StepStats> Step(const GradientReducer& reduce);

  int64_t step() const { return step_; }
  const TrainerOptions& options() const { return options_; }
  LoraNetwork& network() { return *network_; }

  // Everything needed to continue bit-identically: weights, AdamW moments and step
  // counts, the step. Tensors named state/*.
  TensorMap SaveState() const;
  Status RestoreState(const TensorMap& state);

  // The micro-batch this rank draws at (step, micro) — exposed for tests.
  TrainBatch DrawBatch(int64_t step, int64_t micro) const;

 private:
  LoraTrainer() = default;
  const UNet* unet_ = nullptr;
  const ClipTextModel* text_ = nullptr;
  LoraNetwork* network_ = nullptr;
  TrainerOptions options_;
  std::vector<TrainExample> examples_;
  int rank_ = 0, world_size_ = 1;
  int64_t step_ = 0;
  NoiseScheduleTensors schedule_;
  std::unique_ptr<AdamW> optimizer_;
};

}  // namespace farm::sd
