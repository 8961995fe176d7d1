// The parity check of LoRA training against reference data produced by the public
// reference code (kohya sd-scripts + diffusers on CPU, fp32): a folder in the layout of
// shared/reference/train (train_config.json, lora_init.safetensors, train_io.safetensors;
// the base checkpoint named by train_config.json, relative to the folder).
//
// Every chain of runs is replayed from lora_init with a fresh AdamW: forward (text encoder
// and UNet with the LoRA attached), loss, every LoRA gradient and which tensors have one,
// the clip norm and coefficient, and the weights after each optimizer step, under the
// rules and tolerances of the folder's README (suggested_tolerances in train_config.json).
#pragma once

#include <string>

#include "farm/schemas/status.h"
#include "farm/sd/check_reference.h"

namespace farm::sd {

// True when `dir` holds a training reference (train_config.json and train_io.safetensors).
bool IsTrainReference(const std::string& dir);

// Rows: one per forward tensor and scalar; gradients and updated weights are summarised
// per run (worst element over all tensors). A row's max_rel is the worst ratio
// |a - b| / (atol + rtol |b|) and passes at <= 1 (limit "ratio").
StatusOr<ReferenceCheckReport> CheckTrainReference(const std::string& dir);

}  // namespace farm::sd
