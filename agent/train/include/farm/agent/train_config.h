// What one farm-train run does: the farm's TrainParams record (schemas/render_params.h;
// the canonical JSON a train job carries) read into trainer settings, with EasyPhoto's
// face-LoRA recipe as the defaults for everything the record leaves out.
//
// Recipe defaults (EasyPhoto train_lora): rank 128, alpha 64, UNet lr 1e-4, text-encoder lr
// half of it, AdamW betas 0.9/0.999 weight decay 1e-2, grad-norm clip 1.0, batch 1 x
// gradient accumulation 4, constant schedule, 512 px. The record's keys override them;
// `extra` holds the rest by kohya-like name:
//   text_encoder_lr, gradient_accumulation, lr_scheduler, warmup_steps, noise_offset,
//   min_snr_gamma, clip_skip, flip, train_unet, train_text_encoder, max_grad_norm,
//   weight_decay, gradient_checkpointing, checksum_every, validate_every,
//   validation_prompt, validation_negative_prompt, validation_seeds, validation_steps,
//   validation_sampler, validation_cfg, validation_size, top_k
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/lora_network.h"
#include "farm/sd/lora_trainer.h"

namespace farm::agent {

struct ValidationConfig {
  int64_t every = 0;  // optimizer steps between validations (0: only at saved steps)
  std::string prompt = "a photo of {token}, portrait, looking at the camera";
  std::string negative_prompt;
  std::vector<uint64_t> seeds = {1, 2};
  int64_t steps = 20;
  std::string sampler = "Euler a";
  double cfg = 7.0;
  int64_t width = 512, height = 512;
  int64_t top_k = 0;  // > 1: also write the average of the k best checkpoints
};

struct TrainRunConfig {
  std::string identity;
  std::string instance_token = "sks person";
  std::string photos_sha256;
  std::string checkpoint_sha256;  // of the base model, as recorded by the farm
  std::vector<int64_t> save_steps;  // sorted, unique; the last is the run's length
  int64_t ranks = 1;                // data-parallel ranks the farm leases (the gang size)
  int64_t resolution = 512;
  sd::LoraNetworkOptions network;
  sd::TrainerOptions trainer;
  bool gradient_checkpointing = false;
  int64_t checksum_every = 50;  // steps between the cross-rank weight checksum check
  bool validate = false;        // face-ID validation (needs face models)
  ValidationConfig validation;
};

// Parses a TrainParams JSON record (canonical or hand-written). InvalidArgument names the
// key and what was expected.
StatusOr<TrainRunConfig> ParseTrainConfig(const std::string& json_text);

// The settings that determine the weights, as canonical JSON: a resumed run must have the
// same (checked against the saved state).
std::string TrainingFingerprint(const TrainRunConfig& config);

}  // namespace farm::agent
