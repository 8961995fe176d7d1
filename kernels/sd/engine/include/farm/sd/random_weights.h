// Random weights for an architecture: the tiny test models, and the full-size SD 1.5
// checkpoint the engine benchmark loads (never committed, generated where it runs).
#pragma once

#include <cstdint>

#include <ATen/ATen.h>

#include "farm/schemas/status.h"
#include "farm/sd/architecture.h"
#include "farm/sd/checkpoint.h"
#include "farm/sd/clip_text_model.h"
#include "farm/sd/tensor_map.h"
#include "farm/sd/unet.h"

namespace farm::sd {

// Each tensor is drawn from its own generator seeded from (seed, name), so a tensor's
// values do not depend on which other tensors exist or the order they are made in.
// Matrices and convolutions: N(0, 1/fan_in); norm scales 1 + 0.1·N(0,1); biases and
// norm shifts 0.1·N(0,1). Deterministic for a seed on every machine.
TensorMap RandomWeights(const WeightShapes& shapes, uint64_t seed, at::ScalarType dtype);

SdWeights RandomSdWeights(const SdArchitecture& arch, uint64_t seed, at::ScalarType dtype);

// Float32 models of `arch` with random weights and the architecture's head and group
// counts (the training benchmarks).
StatusOr<UNet> RandomUNet(const SdArchitecture& arch, uint64_t seed);
StatusOr<ClipTextModel> RandomTextEncoder(const SdArchitecture& arch, uint64_t seed);

}  // namespace farm::sd
