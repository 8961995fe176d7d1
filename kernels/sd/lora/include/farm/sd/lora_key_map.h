// Which model weight a kohya LoRA module targets.
//
// kohya names a module `prefix + "_" + module path with every '.' replaced by '_'`
// (`lora_unet` for the UNet, `lora_te` for the SD 1.5 text encoder), so
// `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q` becomes
// `lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q`. Since '_' is
// also part of module names (`to_q`, `proj_in`), a kohya name cannot be split back;
// instead the table is built forward from the model's own weight names.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "farm/sd/checkpoint.h"
#include "farm/sd/tensor_map.h"

namespace farm::sd {

inline constexpr std::string_view kLoraUnetPrefix = "lora_unet";
inline constexpr std::string_view kLoraTextEncoderPrefix = "lora_te";

struct LoraTarget {
  std::string component;   // "unet", "text_encoder"
  std::string module;      // diffusers module path, e.g. "down_blocks.0.attentions.0.proj_in"
  std::string weight_key;  // module + ".weight": the key in the component's TensorMap
};

// prefix + "_" + module with '.' -> '_'.
std::string KohyaModuleName(std::string_view prefix, std::string_view module);

class LoraKeyMap {
 public:
  // Adds every `<module>.weight` of `weight_keys` (other keys, e.g. biases, are skipped).
  // Takes names only, so the full-size table can be built without allocating weights.
  void AddComponent(const std::string& component, std::string_view prefix,
                    const std::vector<std::string>& weight_keys);

  // nullptr when no weight has this kohya name, or when several do (see ambiguous()).
  const LoraTarget* Find(const std::string& kohya_name) const;
  size_t size() const;
  // kohya names that two different weights share after '.' -> '_', with those weights
  // ("component/key"). Never the case for SD 1.5; refused rather than guessed.
  const std::map<std::string, std::vector<std::string>>& ambiguous() const;

 private:
  std::map<std::string, LoraTarget> targets_;
  std::map<std::string, std::vector<std::string>> ambiguous_;
};

std::vector<std::string> TensorMapKeys(const TensorMap& tensors);

// The SD 1.5 table: weights.unet under `lora_unet`, weights.text_encoder under `lora_te`.
LoraKeyMap BuildSdLoraKeyMap(const SdWeights& weights);

}  // namespace farm::sd
