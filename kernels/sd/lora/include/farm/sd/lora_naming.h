// The tensor names of LoRA files as people find them, mapped to the kohya module names
// the merge looks up (lora_key_map.h). For a module `<m>`, a diffusers module path such as
// `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`:
//   kohya (sd-scripts, A1111, LoCon)  lora_unet_<m with '.' -> '_'>.lora_down.weight, .lora_up.weight,
//                                     .alpha (lora_te_ for the text encoder); LyCORIS LoCon
//                                     with a Tucker core adds .lora_mid.weight
//   diffusers / PEFT                  unet.<m>.lora_A.weight, .lora_B.weight
//   older diffusers                   unet.<m>.lora.down.weight, .lora.up.weight;
//                                     text_encoder.<m>.lora_linear_layer.down.weight, .up.weight
//   attention processors              unet.<attn>.processor.to_q_lora.down.weight, .up.weight
//                                     (to_k, to_v; to_out_lora is to_out.0, and in the text
//                                     encoder q_proj, k_proj, v_proj, out_proj)
// and `<prefix><m>.alpha` for an alpha. LyCORIS LoHa and LoKr files use the kohya names with
// their own factors (`<name>.hada_w1_a`, `.hada_w1_b`, `.hada_w2_a`, `.hada_w2_b`, optional
// Tucker cores `.hada_t1`, `.hada_t2`; `<name>.lokr_w1` or `.lokr_w1_a`/`.lokr_w1_b`, `.lokr_w2`
// or `.lokr_w2_a`/`.lokr_w2_b`, optional `.lokr_t2`). The component prefix (`unet.`, `text_encoder.`) may be
// absent or `base_model.model.` (a model-level PEFT save): then a path under `text_model.` is
// the text encoder's and any other the UNet's.
//
// Other network kinds share the kohya prefixes but not the math (LyCORIS (IA)^3, GLoRA,
// OFT, DoRA, ...); RefusedLoraKind names them so they are refused
// by name, not merged as something else.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace farm::sd {

enum class LoraTensorRole { kDown, kUp, kMid, kAlpha, kFactor };

struct LoraKeyParts {
  std::string module;  // the kohya module name: "lora_unet_down_blocks_0_attentions_0_proj_in"
  std::string stored;  // the module as the file names it: the key without its role suffix
  LoraTensorRole role = LoraTensorRole::kDown;
  bool kohya = true;        // kohya naming; false for the diffusers/PEFT forms
  std::string component;    // diffusers forms: "unet" or "text_encoder"; empty for kohya
  std::string factor;       // kFactor: the LyCORIS factor, "hada_w1_a", "lokr_w1", ...
};

// The module and role of a LoRA tensor key; empty when `key` is in none of the forms above.
std::optional<LoraKeyParts> ParseLoraKey(std::string_view key);

struct RefusedLoraTensor {
  std::string kind;    // "LoHa (LyCORIS)", "LoKr (LyCORIS)", "DoRA", ...
  std::string module;  // the kohya module name it belongs to (as ParseLoraKey would give)
  std::string stored;  // the module as the file names it
};

// The network kind a tensor belongs to when it is a kind StudioFarm does not apply.
std::optional<RefusedLoraTensor> RefusedLoraKind(std::string_view key);

}  // namespace farm::sd
