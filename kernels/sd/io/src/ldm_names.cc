// LDM <-> diffusers key names for SD 1.5, after diffusers' conversion script
// (scripts/convert_diffusers_to_original_stable_diffusion.py and convert_from_ckpt.py).
// The script hard-codes 4 levels and 2 res blocks per level; here the number of res
// blocks per level and of VAE levels are read from the names themselves.
#include <algorithm>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "farm/sd/checkpoint.h"
#include "name_rules.h"

namespace farm::sd {
namespace {

using namespace name_rules;

constexpr std::string_view kUnetPrefix = "model.diffusion_model.";
constexpr std::string_view kVaePrefix = "first_stage_model.";
constexpr std::string_view kTextPrefix = "cond_stage_model.transformer.";
// Only CLIP's transformer belongs to SD 1.5's conditioning model; anything else under
// this prefix (e.g. SD 2's OpenCLIP) is a model this loader does not know.
constexpr std::string_view kCondPrefix = "cond_stage_model.";

// ---- VAE ----

const Renames kVaeResnetLdmToDiffusers = {
    {"norm1.", "norm1."}, {"conv1.", "conv1."}, {"norm2.", "norm2."},
    {"conv2.", "conv2."}, {"nin_shortcut.", "conv_shortcut."}};
const Renames kVaeResnetDiffusersToLdm = {
    {"norm1.", "norm1."}, {"conv1.", "conv1."}, {"norm2.", "norm2."},
    {"conv2.", "conv2."}, {"conv_shortcut.", "nin_shortcut."}};
const Renames kVaeAttentionLdmToDiffusers = {
    {"norm.", "group_norm."}, {"q.", "to_q."}, {"k.", "to_k."}, {"v.", "to_v."}, {"proj_out.", "to_out.0."}};
const Renames kVaeAttentionDiffusersToLdm = {
    {"group_norm.", "norm."}, {"to_q.", "q."}, {"to_k.", "k."}, {"to_v.", "v."}, {"to_out.0.", "proj_out."}};

// The decoder's LDM levels count up from the lowest resolution; diffusers' the other way.
int VaeDecoderLevels(const std::vector<std::string_view>& keys, std::string_view level_prefix) {
  int max_level = -1;
  for (std::string_view k : keys) {
    KeyReader key(k);
    if (key.Take(level_prefix)) max_level = std::max(max_level, key.TakeIndex().value_or(-1));
  }
  return max_level + 1;
}

std::optional<std::string> VaeLdmToDiffusers(std::string_view name, int decoder_levels) {
  KeyReader key(name);
  if (key.Take("quant_conv.")) return RenameLayer(key, {{"", "quant_conv."}});
  if (key.Take("post_quant_conv.")) return RenameLayer(key, {{"", "post_quant_conv."}});
  const bool encoder = key.Take("encoder.");
  if (!encoder && !key.Take("decoder.")) return std::nullopt;
  const std::string side = encoder ? "encoder." : "decoder.";
  auto prefixed = [&](std::optional<std::string> inner, const std::string& block) {
    return inner ? std::optional(side + block + *inner) : std::nullopt;
  };
  if (key.Take("mid.")) {
    if (key.Take("attn_1.")) return prefixed(RenameLayer(key, kVaeAttentionLdmToDiffusers), "mid_block.attentions.0.");
    if (key.Take("block_1.")) return prefixed(RenameLayer(key, kVaeResnetLdmToDiffusers), "mid_block.resnets.0.");
    if (key.Take("block_2.")) return prefixed(RenameLayer(key, kVaeResnetLdmToDiffusers), "mid_block.resnets.1.");
    return std::nullopt;
  }
  if (key.Take(encoder ? "down." : "up.")) {
    std::optional<int> level = key.TakeIndex();
    if (!level) return std::nullopt;
    const int diffusers_level = encoder ? *level : decoder_levels - 1 - *level;
    const std::string block = (encoder ? "down_blocks." : "up_blocks.") + Str(diffusers_level) + ".";
    if (key.Take("block.")) {
      std::optional<int> j = key.TakeIndex();
      return j ? prefixed(RenameLayer(key, kVaeResnetLdmToDiffusers), block + "resnets." + Str(*j) + ".")
               : std::nullopt;
    }
    if (key.Take(encoder ? "downsample.conv." : "upsample.conv.")) {
      return prefixed(RenameLayer(key, {{"", ""}}), block + (encoder ? "downsamplers" : "upsamplers") + ".0.conv.");
    }
    return std::nullopt;
  }
  return prefixed(RenameLayer(key, {{"conv_in.", "conv_in."}, {"conv_out.", "conv_out."}, {"norm_out.", "conv_norm_out."}}), "");
}

std::optional<std::string> VaeDiffusersToLdm(std::string_view name, int decoder_levels) {
  KeyReader key(name);
  if (key.Take("quant_conv.")) return RenameLayer(key, {{"", "quant_conv."}});
  if (key.Take("post_quant_conv.")) return RenameLayer(key, {{"", "post_quant_conv."}});
  const bool encoder = key.Take("encoder.");
  if (!encoder && !key.Take("decoder.")) return std::nullopt;
  const std::string side = encoder ? "encoder." : "decoder.";
  auto prefixed = [&](std::optional<std::string> inner, const std::string& block) {
    return inner ? std::optional(side + block + *inner) : std::nullopt;
  };
  if (key.Take("mid_block.")) {
    if (key.Take("attentions.0.")) return prefixed(RenameLayer(key, kVaeAttentionDiffusersToLdm), "mid.attn_1.");
    if (key.Take("resnets.0.")) return prefixed(RenameLayer(key, kVaeResnetDiffusersToLdm), "mid.block_1.");
    if (key.Take("resnets.1.")) return prefixed(RenameLayer(key, kVaeResnetDiffusersToLdm), "mid.block_2.");
    return std::nullopt;
  }
  if (key.Take(encoder ? "down_blocks." : "up_blocks.")) {
    std::optional<int> level = key.TakeIndex();
    if (!level || (!encoder && *level >= decoder_levels)) return std::nullopt;
    const int ldm_level = encoder ? *level : decoder_levels - 1 - *level;
    const std::string block = (encoder ? "down." : "up.") + Str(ldm_level) + ".";
    if (key.Take("resnets.")) {
      std::optional<int> j = key.TakeIndex();
      return j ? prefixed(RenameLayer(key, kVaeResnetDiffusersToLdm), block + "block." + Str(*j) + ".")
               : std::nullopt;
    }
    if (key.Take(encoder ? "downsamplers.0.conv." : "upsamplers.0.conv.")) {
      return prefixed(RenameLayer(key, {{"", ""}}), block + (encoder ? "downsample" : "upsample") + ".conv.");
    }
    return std::nullopt;
  }
  return prefixed(RenameLayer(key, {{"conv_in.", "conv_in."}, {"conv_out.", "conv_out."}, {"conv_norm_out.", "norm_out."}}), "");
}

// ---- CLIP text encoder: same names in both layouts, under text_model. ----

bool IsClipWeightName(std::string_view name) {
  KeyReader key(name);
  if (!key.Take("text_model.")) return false;
  if (key.Take("embeddings.")) {
    return key.rest() == "token_embedding.weight" || key.rest() == "position_embedding.weight";
  }
  if (key.Take("final_layer_norm.")) return key.Param().has_value();
  if (!key.Take("encoder.layers.") || !key.TakeIndex()) return false;
  return RenameLayer(key, {{"self_attn.q_proj.", ""}, {"self_attn.k_proj.", ""}, {"self_attn.v_proj.", ""},
                           {"self_attn.out_proj.", ""}, {"layer_norm1.", ""}, {"layer_norm2.", ""},
                           {"mlp.fc1.", ""}, {"mlp.fc2.", ""}})
      .has_value();
}

// Buffers and training state that LDM checkpoints carry under model prefixes.
bool IsNonWeightUnderModelPrefix(std::string_view key) {
  return key.ends_with("embeddings.position_ids") || key.starts_with("first_stage_model.loss.");
}

Status UnmappableKey(const std::string& key, std::string_view prefix, const char* what) {
  return InvalidArgument("key '" + key + "' is under the " + what + " prefix '" + std::string(prefix) +
                         "' but has no counterpart in SD 1.5's " + what + " layout");
}

}  // namespace

const char* SdComponentName(SdComponent component) {
  switch (component) {
    case SdComponent::kUnet: return "unet";
    case SdComponent::kVae: return "vae";
    case SdComponent::kTextEncoder: return "text_encoder";
  }
  return "?";
}

const char* LdmPrefix(SdComponent component) {
  switch (component) {
    case SdComponent::kUnet: return "model.diffusion_model.";
    case SdComponent::kVae: return "first_stage_model.";
    case SdComponent::kTextEncoder: return "cond_stage_model.transformer.";
  }
  return "";
}

StatusOr<LdmNameMap> MapLdmNames(const std::vector<std::string>& ldm_keys) {
  std::vector<std::string_view> unet_keys, vae_keys;
  for (const std::string& key : ldm_keys) {
    std::string_view k(key);
    if (k.starts_with(kUnetPrefix)) unet_keys.push_back(k.substr(kUnetPrefix.size()));
    if (k.starts_with(kVaePrefix)) vae_keys.push_back(k.substr(kVaePrefix.size()));
  }
  const UnetLayout unet_layout = UnetLayoutFromLdm(unet_keys);
  const int decoder_levels = VaeDecoderLevels(vae_keys, "decoder.up.");

  LdmNameMap out;
  std::map<std::string, const std::string*> targets;  // "component/name" -> LDM key, to catch clashes
  for (const std::string& key : ldm_keys) {
    std::string_view k(key);
    if (IsNonWeightUnderModelPrefix(k)) {
      out.ignored.push_back(key);
      continue;
    }
    DiffusersName target{};
    std::optional<std::string> name;
    if (k.starts_with(kUnetPrefix)) {
      target.component = SdComponent::kUnet;
      name = UnetLdmToDiffusers(k.substr(kUnetPrefix.size()), unet_layout);
      if (!name) return UnmappableKey(key, kUnetPrefix, "UNet");
    } else if (k.starts_with(kVaePrefix)) {
      target.component = SdComponent::kVae;
      name = VaeLdmToDiffusers(k.substr(kVaePrefix.size()), decoder_levels);
      if (!name) return UnmappableKey(key, kVaePrefix, "VAE");
    } else if (k.starts_with(kCondPrefix)) {
      target.component = SdComponent::kTextEncoder;
      if (k.starts_with(kTextPrefix)) {
        std::string_view rest = k.substr(kTextPrefix.size());
        // Early checkpoints, saved before CLIPTextModel nested its weights under
        // text_model., lack that level.
        name = rest.starts_with("text_model.") ? std::string(rest) : "text_model." + std::string(rest);
      }
      if (!name || !IsClipWeightName(*name)) return UnmappableKey(key, kCondPrefix, "CLIP text encoder");
    } else {
      out.ignored.push_back(key);
      continue;
    }
    target.name = std::move(*name);
    const std::string full = std::string(SdComponentName(target.component)) + "/" + target.name;
    auto [it, fresh] = targets.emplace(full, &key);
    if (!fresh) return InvalidArgument("keys '" + *it->second + "' and '" + key + "' both map to " + full);
    out.mapped.emplace(key, std::move(target));
  }
  return out;
}

StatusOr<std::map<std::string, std::string>> MapDiffusersNamesToLdm(
    SdComponent component, const std::vector<std::string>& diffusers_names) {
  std::map<std::string, std::string> out;
  UnetDiffusersLayout unet_layout;
  int decoder_levels = 0;
  if (component == SdComponent::kUnet) unet_layout = UnetLayoutFromDiffusers(diffusers_names);
  if (component == SdComponent::kVae) {
    std::vector<std::string_view> names(diffusers_names.begin(), diffusers_names.end());
    decoder_levels = VaeDecoderLevels(names, "decoder.up_blocks.");
  }
  for (const std::string& name : diffusers_names) {
    std::optional<std::string> ldm;
    switch (component) {
      case SdComponent::kUnet: ldm = UnetDiffusersToLdm(name, unet_layout); break;
      case SdComponent::kVae: ldm = VaeDiffusersToLdm(name, decoder_levels); break;
      case SdComponent::kTextEncoder:
        if (IsClipWeightName(name)) ldm = name;
        break;
    }
    if (!ldm) {
      return InvalidArgument(std::string(SdComponentName(component)) + " tensor '" + name +
                             "' has no counterpart in SD 1.5's LDM layout");
    }
    out.emplace(name, LdmPrefix(component) + *ldm);
  }
  return out;
}

}  // namespace farm::sd
