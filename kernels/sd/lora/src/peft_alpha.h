// The alpha diffusers/PEFT LoRA files keep in their safetensors metadata rather than in
// `.alpha` tensors: `lora_adapter_metadata` holds the PEFT LoraConfig as JSON, its keys
// prefixed by component (`unet.lora_alpha`) in a pipeline save, bare in a model save.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace farm::sd {

inline constexpr const char* kLoraAdapterMetadataKey = "lora_adapter_metadata";

struct PeftAlpha {
  std::optional<double> lora_alpha;
  bool rslora = false;  // use_rslora: scale lora_alpha / sqrt(r) instead of lora_alpha / r
};

struct PeftAlphas {
  std::map<std::string, PeftAlpha> by_component;  // "unet", "text_encoder"
  std::string problem;  // empty, or what in the metadata cannot be followed
};

// What the metadata says for each component; no metadata means no alphas and no problem.
PeftAlphas ReadPeftAlphas(const std::map<std::string, std::string>& metadata);

// The alpha that makes alpha / rank the scale PEFT uses for a module of that rank.
double PeftModuleAlpha(const PeftAlpha& peft, double rank);

}  // namespace farm::sd
