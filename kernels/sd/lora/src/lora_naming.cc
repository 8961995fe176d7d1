#include "farm/sd/lora_naming.h"

#include <utility>

#include "farm/sd/lora_key_map.h"

namespace farm::sd {
namespace {

enum class Form { kKohya, kDiffusers, kProcessor };

struct RoleSuffix {
  std::string_view suffix;
  LoraTensorRole role;
  Form form;
};

// Longer forms first: ".lora.down.weight" also ends in ".down.weight".
constexpr RoleSuffix kRoleSuffixes[] = {
    {".lora_down.weight", LoraTensorRole::kDown, Form::kKohya},
    {".lora_up.weight", LoraTensorRole::kUp, Form::kKohya},
    {".lora_mid.weight", LoraTensorRole::kMid, Form::kKohya},
    {".lora_A.weight", LoraTensorRole::kDown, Form::kDiffusers},
    {".lora_B.weight", LoraTensorRole::kUp, Form::kDiffusers},
    {".lora_linear_layer.down.weight", LoraTensorRole::kDown, Form::kDiffusers},
    {".lora_linear_layer.up.weight", LoraTensorRole::kUp, Form::kDiffusers},
    {".lora.down.weight", LoraTensorRole::kDown, Form::kDiffusers},
    {".lora.up.weight", LoraTensorRole::kUp, Form::kDiffusers},
    {".down.weight", LoraTensorRole::kDown, Form::kProcessor},
    {".up.weight", LoraTensorRole::kUp, Form::kProcessor},
    {".alpha", LoraTensorRole::kAlpha, Form::kKohya},
};

// Attention-processor LoRA names: the projection each one adds to, in the UNet and in
// the text encoder (diffusers' UNET_TO_DIFFUSERS and DIFFUSERS_OLD_TO_PEFT tables).
struct ProcessorName {
  std::string_view lora;
  std::string_view unet;
  std::string_view text_encoder;
};
constexpr ProcessorName kProcessorNames[] = {
    {"to_q_lora", "to_q", "q_proj"},
    {"to_k_lora", "to_k", "k_proj"},
    {"to_v_lora", "to_v", "v_proj"},
    {"to_out_lora", "to_out.0", "out_proj"},
};

// LyCORIS LoHa and LoKr factors (A1111's network_hada.py, network_lokr.py).
constexpr std::string_view kFactorNames[] = {
    "hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "hada_t1",   "hada_t2",   "lokr_w1",
    "lokr_w1_a", "lokr_w1_b", "lokr_w2",   "lokr_w2_a", "lokr_w2_b", "lokr_t2",
};

// Tensor suffixes of network kinds StudioFarm does not apply.
struct RefusedSuffix {
  std::string_view suffix;
  std::string_view kind;
};
constexpr RefusedSuffix kRefusedSuffixes[] = {
    {".on_input", "(IA)^3 (LyCORIS)"},
    {".a1.weight", "GLoRA (LyCORIS)"}, {".a2.weight", "GLoRA (LyCORIS)"},
    {".b1.weight", "GLoRA (LyCORIS)"}, {".b2.weight", "GLoRA (LyCORIS)"},
    {".oft_blocks", "OFT"},            {".oft_diag", "OFT"},
    {".dora_scale", "DoRA"},           {".lora_magnitude_vector", "DoRA"},
    {".lora_magnitude_vector.weight", "DoRA"},
    {".diff", "full-weight difference (LyCORIS full)"},
    {".diff_b", "full-weight difference (LyCORIS full)"},
    {".w_norm", "norm (LyCORIS)"},     {".b_norm", "norm (LyCORIS)"},
};

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() > suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.size() > prefix.size() && text.substr(0, prefix.size()) == prefix;
}

struct DiffusersModule {
  std::string component;  // "unet", "text_encoder"
  std::string path;       // diffusers module path within it
};

// "unet.a.b" -> unet, "a.b"; see the header for prefixes that are absent.
DiffusersModule SplitComponent(std::string_view stem) {
  constexpr std::string_view kPeftModel = "base_model.model.";
  if (StartsWith(stem, kPeftModel)) stem.remove_prefix(kPeftModel.size());
  for (std::string_view component : {"unet", "text_encoder"}) {
    if (StartsWith(stem, component) && stem[component.size()] == '.') {
      return {std::string(component), std::string(stem.substr(component.size() + 1))};
    }
  }
  return {StartsWith(stem, "text_model.") ? "text_encoder" : "unet", std::string(stem)};
}

std::string KohyaName(const DiffusersModule& module) {
  return KohyaModuleName(module.component == "unet" ? kLoraUnetPrefix : kLoraTextEncoderPrefix,
                         module.path);
}

// The kohya name of a module stem: kohya stems have no '.', diffusers paths do.
LoraKeyParts FromStem(std::string_view stem, LoraTensorRole role) {
  LoraKeyParts parts;
  parts.stored = std::string(stem);
  parts.role = role;
  if (stem.find('.') == std::string_view::npos) {
    parts.module = parts.stored;
    return parts;
  }
  DiffusersModule module = SplitComponent(stem);
  parts.kohya = false;
  parts.module = KohyaName(module);
  parts.component = module.component;
  return parts;
}

// "<attn>.processor.to_q_lora" -> "<attn>.to_q" (or ".q_proj" in the text encoder).
std::optional<LoraKeyParts> FromProcessorStem(std::string_view stem, LoraTensorRole role) {
  for (const ProcessorName& name : kProcessorNames) {
    if (!EndsWith(stem, name.lora) || stem[stem.size() - name.lora.size() - 1] != '.') continue;
    std::string attn(stem.substr(0, stem.size() - name.lora.size() - 1));
    constexpr std::string_view kProcessor = ".processor";
    if (EndsWith(attn, kProcessor)) attn.resize(attn.size() - kProcessor.size());
    DiffusersModule module = SplitComponent(attn);
    module.path += '.';
    module.path += module.component == "unet" ? name.unet : name.text_encoder;
    LoraKeyParts parts;
    parts.module = KohyaName(module);
    parts.stored = std::string(stem);
    parts.role = role;
    parts.kohya = false;
    parts.component = module.component;
    return parts;
  }
  return std::nullopt;
}

}  // namespace

std::optional<LoraKeyParts> ParseLoraKey(std::string_view key) {
  for (const RoleSuffix& form : kRoleSuffixes) {
    if (!EndsWith(key, form.suffix)) continue;
    std::string_view stem = key.substr(0, key.size() - form.suffix.size());
    if (form.form == Form::kProcessor) return FromProcessorStem(stem, form.role);
    LoraKeyParts parts = FromStem(stem, form.role);
    // A kohya role suffix on a dotted path is a diffusers name written with kohya's
    // suffixes; a diffusers suffix on a stem without '.' names nothing.
    if (form.form == Form::kDiffusers && parts.kohya) return std::nullopt;
    return parts;
  }
  for (std::string_view factor : kFactorNames) {
    if (!EndsWith(key, factor) || key[key.size() - factor.size() - 1] != '.') continue;
    LoraKeyParts parts = FromStem(key.substr(0, key.size() - factor.size() - 1), LoraTensorRole::kFactor);
    parts.factor = std::string(factor);
    return parts;
  }
  return std::nullopt;
}

std::optional<RefusedLoraTensor> RefusedLoraKind(std::string_view key) {
  for (const RefusedSuffix& refused : kRefusedSuffixes) {
    if (!EndsWith(key, refused.suffix)) continue;
    LoraKeyParts parts = FromStem(key.substr(0, key.size() - refused.suffix.size()),
                                  LoraTensorRole::kDown);
    return RefusedLoraTensor{std::string(refused.kind), std::move(parts.module),
                             std::move(parts.stored)};
  }
  return std::nullopt;
}

}  // namespace farm::sd
