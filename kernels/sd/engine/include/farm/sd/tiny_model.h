// A tiny SD 1.5-topology model with random weights and real tokenizer files, written
// deterministically from a seed: what the tests and the quickstart render with when no
// real checkpoint is configured. Its images are noise-like and mean nothing.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/ATen.h>

#include "farm/schemas/status.h"
#include "farm/sd/architecture.h"

namespace farm::sd {

struct TinyModelFiles {
  std::string checkpoint;     // <dir>/tiny-sd15.safetensors (LDM layout, fp32)
  std::string tokenizer_dir;  // <dir>/tokenizer (vocab.json, merges.txt)
  std::string controlnet;     // <dir>/tiny-controlnet.safetensors (original cldm layout, fp32)
  std::string lora;           // <dir>/tiny-lora.safetensors (kohya format, rank 4)
};

// Writes the files (same bytes for the same seed on every machine).
StatusOr<TinyModelFiles> MakeTinyModel(const std::string& dir, uint64_t seed);

// A random single-file checkpoint of any architecture in the LDM layout, with the
// head and group counts in its metadata: the tiny model, and the full-size SD 1.5
// checkpoint of the engine benchmark.
Status WriteRandomCheckpoint(const std::string& path, const SdArchitecture& arch, uint64_t seed,
                             at::ScalarType dtype);

// A random ControlNet for the UNet of `arch` in the original ControlNet layout
// (control_model.* keys), with the head and group counts in its metadata. Its weights
// come from a seed derived from `seed`, so it is not a copy of the UNet's encoder.
Status WriteRandomControlNet(const std::string& path, const SdArchitecture& arch,
                             const ControlNetArchitecture& controlnet, uint64_t seed,
                             at::ScalarType dtype);

// A random kohya-format LoRA for `arch`: every attention projection of the UNet
// (attn1/attn2 to_q, to_k, to_v, to_out.0) and of the text encoder (q/k/v/out_proj),
// with alpha = rank. Deterministic for a seed; different seeds give different LoRAs.
Status WriteRandomLora(const std::string& path, const SdArchitecture& arch, uint64_t seed, int rank);

}  // namespace farm::sd
