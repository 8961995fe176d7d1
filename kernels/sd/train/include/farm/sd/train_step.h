// The pieces of one kohya training step for SD 1.5 epsilon prediction (train_network.py):
// DDPM noising, the forward through text encoder and UNet, the loss (per-sample MSE mean,
// optional min-SNR weighting), gradient-norm clipping and AdamW over a LoraNetwork.
// Numbers follow the float32 operation order of the reference (PyTorch 1.13), so a step
// matches kohya to float32 rounding (shared/reference/train).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/clip_text_model.h"
#include "farm/sd/lora_network.h"
#include "farm/sd/training_schedule.h"
#include "farm/sd/unet.h"

namespace farm::sd {

// The DDPM schedule as float32 tensors: alphas_cumprod and kohya's all_snr
// ((sqrt(ac) / sqrt(1 - ac))^2, float32).
struct NoiseScheduleTensors {
  at::Tensor alphas_cumprod;  // [T]
  at::Tensor all_snr;         // [T]
};
NoiseScheduleTensors MakeNoiseScheduleTensors(const TrainingSchedule& schedule);

// diffusers DDPMScheduler.add_noise: sqrt(ac[t]) * x0 + sqrt(1 - ac[t]) * noise, per sample.
at::Tensor AddNoise(const NoiseScheduleTensors& schedule, const at::Tensor& latents,
                    const at::Tensor& noise, const at::Tensor& timesteps);

// One micro-batch: clean latents (already scaled), token ids, the noise and timesteps.
struct TrainBatch {
  at::Tensor latents;    // [B, 4, h, w] float32
  at::Tensor input_ids;  // [B, 77] int64
  at::Tensor noise;      // like latents
  at::Tensor timesteps;  // [B] int64
};

struct LossOptions {
  int clip_skip = 1;
  double min_snr_gamma = 0;  // 0: plain MSE; else kohya apply_snr_weight with this gamma
};

struct LossResult {
  at::Tensor loss;        // scalar, part of the autograd graph when the models have adapters
  at::Tensor per_sample;  // [B], before any min-SNR weight (detached)
  at::Tensor encoder_hidden_states;  // [B, 77, C] (detached)
  at::Tensor eps_pred;    // [B, 4, h, w] (detached)
};

// Text encoder -> UNet on the noised latents -> loss. Records autograd when the models
// carry adapters and grad mode is on.
StatusOr<LossResult> TrainingLoss(const UNet& unet, const ClipTextModel& text_encoder,
                                  const NoiseScheduleTensors& schedule, const TrainBatch& batch,
                                  const LossOptions& options);

struct ClipResult {
  double total_norm = 0;  // 2-norm over every parameter that has a gradient, before clipping
  double coef = 1;        // min(1, max_norm / (total_norm + 1e-6)); every gradient was scaled by it
};

// torch.nn.utils.clip_grad_norm_ (norm of the per-tensor 2-norms, float32), over the
// parameters with has_grad() set; the others are neither counted nor scaled.
ClipResult ClipGradNorm(LoraNetwork& network, double max_norm);

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;
};

// torch.optim.AdamW (single-tensor, amsgrad off) over the flat buffers, one learning rate
// per group. Moments and per-parameter step counts are flat too, so the whole optimizer
// state saves and restores exactly (resume is bit-identical).
class AdamW {
 public:
  AdamW(const LoraNetwork& network, AdamWOptions options);

  // Updates every parameter that has a gradient (has_grad()), with the learning rate of
  // its group (text encoder, UNet); the others are left exactly as they are.
  void Step(LoraNetwork& network, double text_encoder_lr, double unet_lr);

  // State: exp_avg, exp_avg_sq (flat, like the parameters) and each parameter's step count.
  at::Tensor exp_avg() const { return exp_avg_; }
  at::Tensor exp_avg_sq() const { return exp_avg_sq_; }
  const std::vector<int64_t>& steps() const { return steps_; }
  Status Restore(const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq, std::vector<int64_t> steps);
  const AdamWOptions& options() const { return options_; }

 private:
  AdamWOptions options_;
  at::Tensor exp_avg_, exp_avg_sq_;
  std::vector<int64_t> steps_;
};

}  // namespace farm::sd
