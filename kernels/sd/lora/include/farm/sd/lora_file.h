// LoRA files (kohya sd-scripts networks/lora.py, and the diffusers/PEFT namings of
// lora_naming.h). Per module `<name>`:
//   <name>.lora_down.weight  [r, in]       (conv: [r, in, kh, kw])    PEFT: lora_A.weight
//   <name>.lora_up.weight    [out, r]      (conv: [out, r, 1, 1])     PEFT: lora_B.weight
//   <name>.alpha             scalar, optional: absent means alpha = r (scale 1); diffusers
//                            files may give it in the `lora_adapter_metadata` JSON instead
//                            (lora_alpha, or <component>.lora_alpha; use_rslora scales by
//                            1/sqrt(r) instead of 1/r)
// Modules are named by their kohya name, such as `lora_unet_down_blocks_0_attentions_0_proj_in`,
// whatever the file's naming; see lora_key_map.h for how it is matched to a model weight.
// LyCORIS LoHa and LoKr modules are applied with A1111's math (lora_merge.h); other kinds
// (lora_naming.h) are refused by name: a file holding only those is an error, and such
// modules in a LoRA file are problems.
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
  std::string name;     // the module as the file names it, or the tensor key when it forms no module
  std::string message;  // what is wrong, with the shapes involved
};

// "<source>: <name>: <message>".
std::string FormatLoraIssue(const LoraIssue& issue);

// One well-formed module. Tensors stay in their stored dtype (f16, bf16, f32 or f64) on
// the CPU; merging converts them to float32 on the weight's device.
enum class LoraModuleKind {
  kLora,  // LoRA and LoCon: down, up
  kLoha,  // LyCORIS LoHa: factors hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b [, hada_t1, hada_t2]
  kLokr,  // LyCORIS LoKr: factors lokr_w1 or lokr_w1_a/_b, lokr_w2 or lokr_w2_a/_b [, lokr_t2]
};

// "LoRA", "LoHa (LyCORIS)", "LoKr (LyCORIS)".
const char* LoraModuleKindName(LoraModuleKind kind);

struct LoraModule {
  std::string name;         // kohya name
  std::string stored_name;  // as the file names it (== name for kohya files), for messages
  LoraModuleKind kind = LoraModuleKind::kLora;
  at::Tensor down;  // kLora
  at::Tensor up;    // kLora
  at::Tensor mid;   // kLora, optional: LyCORIS LoCon Tucker core [r, r, kh, kw] between a 1x1
                    // down and a 1x1 up (A1111's rebuild_cp_decomposition)
  std::map<std::string, at::Tensor> factors;  // kLoha, kLokr: by factor name ("hada_w1_a")
  // The dimension alpha is divided by: down.size(0) == up.size(1); LoHa hada_w1_b.size(0);
  // LoKr lokr_w1_b.size(0), else lokr_w2_b.size(0), else 0 (no low-rank factor: scale 1,
  // alpha ignored, as in A1111).
  int64_t rank = 0;
  double alpha = 0;           // the file's alpha, or `rank` when the file has none
  bool alpha_stored = false;  // an .alpha tensor or lora_adapter_metadata gave it
};

struct LoraFile {
  std::string source;
  std::map<std::string, std::string> metadata;  // safetensors "__metadata__" (ss_network_dim, ...)
  std::vector<LoraModule> modules;              // well-formed modules, sorted by name
  // Keys and modules that cannot be applied to any model: tensors in no known naming,
  // modules of other network kinds (LyCORIS (IA)^3, GLoRA, OFT, DoRA, ..., named), a
  // lora_down without its lora_up (or the reverse), incomplete LoHa/LoKr factors, ranks
  // that disagree, non-float or non-finite values, two namings of one module.
  std::vector<LoraIssue> problems;
};

// Reads a .safetensors LoRA. A file that cannot be read is an error, and so is one whose
// modules are all of a refused kind ("this is a DoRA file; ..."); a readable file
// with unusable parts returns those parts in `problems` (merging decides what to do).
StatusOr<LoraFile> ReadLoraFile(const std::string& path);

// The same from tensors already in memory (e.g. a LoRA just trained); `source` names
// them in messages.
StatusOr<LoraFile> LoraFromTensors(const TensorMap& tensors, const std::string& source,
                                   const std::map<std::string, std::string>& metadata = {});

}  // namespace farm::sd
