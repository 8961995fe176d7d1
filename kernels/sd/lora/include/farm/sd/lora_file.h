// kohya-format LoRA files (sd-scripts networks/lora.py). Per module `<name>`:
//   <name>.lora_down.weight  [r, in]       (conv: [r, in, kh, kw])
//   <name>.lora_up.weight    [out, r]      (conv: [out, r, 1, 1])
//   <name>.alpha             scalar, optional: absent means alpha = r (scale 1)
// The module name is a kohya name such as `lora_unet_down_blocks_0_attentions_0_proj_in`;
// see lora_key_map.h for how it is matched to a model weight.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/tensor_map.h"

namespace farm::sd {

// Something in a LoRA that cannot be applied. Reported by name, never dropped silently:
// a LoRA whose modules miss the model changes nothing and a user would not know why.
struct LoraIssue {
  std::string source;   // the LoRA file (or the name given to in-memory tensors)
  std::string name;     // the kohya module name, or the tensor key when it forms no module
  std::string message;  // what is wrong, with the shapes involved
};

// "<source>: <name>: <message>".
std::string FormatLoraIssue(const LoraIssue& issue);

// One well-formed module. Tensors stay in their stored dtype (f16, bf16, f32 or f64) on
// the CPU; merging converts them to float32 on the weight's device.
struct LoraModule {
  std::string name;
  at::Tensor down;
  at::Tensor up;
  int64_t rank = 0;           // down.size(0) == up.size(1)
  double alpha = 0;           // the stored alpha, or `rank` when the file has none
  bool alpha_stored = false;
};

struct LoraFile {
  std::string source;
  std::map<std::string, std::string> metadata;  // safetensors "__metadata__" (ss_network_dim, ...)
  std::vector<LoraModule> modules;              // well-formed modules, sorted by name
  // Keys and modules that cannot be applied to any model: tensors that are not
  // lora_down/lora_up/alpha (other LoRA flavours such as LyCORIS), a lora_down without
  // its lora_up (or the reverse), ranks that disagree, non-float or non-finite values.
  std::vector<LoraIssue> problems;
};

// Reads a .safetensors LoRA. A file that cannot be read is an error; a readable file
// with unusable parts returns those parts in `problems` (merging decides what to do).
StatusOr<LoraFile> ReadLoraFile(const std::string& path);

// The same from tensors already in memory (e.g. a LoRA just trained); `source` names
// them in messages.
StatusOr<LoraFile> LoraFromTensors(const TensorMap& tensors, const std::string& source,
                                   const std::map<std::string, std::string>& metadata = {});

}  // namespace farm::sd
