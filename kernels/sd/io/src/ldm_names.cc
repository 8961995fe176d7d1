// LDM <-> diffusers key names for SD 1.5, after diffusers' conversion script
// (scripts/convert_diffusers_to_original_stable_diffusion.py and convert_from_ckpt.py).
// The script hard-codes 4 levels and 2 res blocks per level; here the number of res
// blocks per level and of VAE levels are read from the names themselves.
#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "farm/sd/checkpoint.h"
#include "farm/sd/controlnet_checkpoint.h"

namespace farm::sd {
namespace {

constexpr std::string_view kUnetPrefix = "model.diffusion_model.";
constexpr std::string_view kVaePrefix = "first_stage_model.";
constexpr std::string_view kTextPrefix = "cond_stage_model.transformer.";
// Only CLIP's transformer belongs to SD 1.5's conditioning model; anything else under
// this prefix (e.g. SD 2's OpenCLIP) is a model this loader does not know.
constexpr std::string_view kCondPrefix = "cond_stage_model.";

// Reads a dotted key from the front.
class KeyReader {
 public:
  explicit KeyReader(std::string_view key) : rest_(key) {}
  bool Take(std::string_view prefix) {
    if (!rest_.starts_with(prefix)) return false;
    rest_.remove_prefix(prefix.size());
    return true;
  }
  // A decimal index followed by '.'.
  std::optional<int> TakeIndex() {
    if (rest_.empty() || rest_[0] < '0' || rest_[0] > '9') return std::nullopt;
    int value = 0;
    auto [end, ec] = std::from_chars(rest_.data(), rest_.data() + rest_.size(), value);
    if (ec != std::errc() || end == rest_.data() + rest_.size() || *end != '.' ||
        (rest_[0] == '0' && end - rest_.data() > 1)) {
      return std::nullopt;
    }
    rest_.remove_prefix(end - rest_.data() + 1);
    return value;
  }
  std::string_view rest() const { return rest_; }
  // "weight"/"bias" (the parameter of a layer), or nullopt.
  std::optional<std::string> Param() const {
    if (rest_ == "weight" || rest_ == "bias") return std::string(rest_);
    return std::nullopt;
  }

 private:
  std::string_view rest_;
};

std::string Str(int value) { return std::to_string(value); }

// Tries each (from, to) rename at the front of the reader; then a parameter must follow.
using Renames = std::vector<std::pair<std::string_view, std::string_view>>;

std::optional<std::string> RenameLayer(KeyReader& key, const Renames& names) {
  for (const auto& [from, to] : names) {
    if (key.Take(from)) {
      std::optional<std::string> param = key.Param();
      if (!param) return std::nullopt;
      return std::string(to) + *param;
    }
  }
  return std::nullopt;
}

// ---- UNet ----

const Renames kUnetResnetLdmToDiffusers = {
    {"in_layers.0.", "norm1."},   {"in_layers.2.", "conv1."},  {"emb_layers.1.", "time_emb_proj."},
    {"out_layers.0.", "norm2."},  {"out_layers.3.", "conv2."}, {"skip_connection.", "conv_shortcut."}};
const Renames kUnetResnetDiffusersToLdm = {
    {"norm1.", "in_layers.0."},   {"conv1.", "in_layers.2."},  {"time_emb_proj.", "emb_layers.1."},
    {"norm2.", "out_layers.0."},  {"conv2.", "out_layers.3."}, {"conv_shortcut.", "skip_connection."}};

// Transformer2DModel (LDM SpatialTransformer) keeps its inner names in both layouts.
std::optional<std::string> AttentionInner(const KeyReader& key) {
  for (std::string_view head : {"norm.", "proj_in.", "proj_out.", "transformer_blocks."}) {
    if (key.rest().starts_with(head) && key.rest().size() > head.size()) return std::string(key.rest());
  }
  return std::nullopt;
}

struct UnetLayout {
  int layers = 2;  // res blocks per down level; up levels have one more
};

// The first downsampler is input_blocks.{layers+1}.0.op (a single level has none).
UnetLayout UnetLayoutFromLdm(const std::vector<std::string_view>& keys) {
  std::optional<int> first_op, last_input;
  for (std::string_view k : keys) {
    KeyReader key(k);
    if (!key.Take("input_blocks.")) continue;
    std::optional<int> n = key.TakeIndex();
    std::optional<int> m = key.TakeIndex();
    if (!n || !m) continue;
    last_input = std::max(last_input.value_or(0), *n);
    if (*m == 0 && key.rest().starts_with("op.")) first_op = std::min(first_op.value_or(*n), *n);
  }
  UnetLayout layout;
  if (first_op) {
    layout.layers = *first_op - 1;
  } else if (last_input) {
    layout.layers = *last_input;
  }
  layout.layers = std::max(layout.layers, 1);
  return layout;
}

std::optional<std::string> UnetLdmToDiffusers(std::string_view name, const UnetLayout& layout) {
  KeyReader key(name);
  const int per_level = layout.layers + 1;
  if (key.Take("time_embed.")) {
    return RenameLayer(key, {{"0.", "time_embedding.linear_1."}, {"2.", "time_embedding.linear_2."}});
  }
  if (key.Take("out.")) return RenameLayer(key, {{"0.", "conv_norm_out."}, {"2.", "conv_out."}});
  if (key.Take("input_blocks.")) {
    std::optional<int> n = key.TakeIndex(), m = key.TakeIndex();
    if (!n || !m) return std::nullopt;
    if (*n == 0) return *m == 0 ? RenameLayer(key, {{"", "conv_in."}}) : std::nullopt;
    const int level = (*n - 1) / per_level, j = (*n - 1) % per_level;
    const std::string block = "down_blocks." + Str(level) + ".";
    if (j == layout.layers) {
      if (*m != 0 || !key.Take("op.")) return std::nullopt;
      return RenameLayer(key, {{"", block + "downsamplers.0.conv."}});
    }
    if (*m == 0) {
      auto inner = RenameLayer(key, kUnetResnetLdmToDiffusers);
      return inner ? std::optional(block + "resnets." + Str(j) + "." + *inner) : std::nullopt;
    }
    auto inner = *m == 1 ? AttentionInner(key) : std::nullopt;
    return inner ? std::optional(block + "attentions." + Str(j) + "." + *inner) : std::nullopt;
  }
  if (key.Take("middle_block.")) {
    std::optional<int> m = key.TakeIndex();
    if (m == 0 || m == 2) {
      auto inner = RenameLayer(key, kUnetResnetLdmToDiffusers);
      return inner ? std::optional("mid_block.resnets." + Str(*m / 2) + "." + *inner) : std::nullopt;
    }
    auto inner = m == 1 ? AttentionInner(key) : std::nullopt;
    return inner ? std::optional("mid_block.attentions.0." + *inner) : std::nullopt;
  }
  if (key.Take("output_blocks.")) {
    std::optional<int> n = key.TakeIndex(), m = key.TakeIndex();
    if (!n || !m) return std::nullopt;
    const int level = *n / per_level, j = *n % per_level;
    const std::string block = "up_blocks." + Str(level) + ".";
    if (*m == 0) {
      auto inner = RenameLayer(key, kUnetResnetLdmToDiffusers);
      return inner ? std::optional(block + "resnets." + Str(j) + "." + *inner) : std::nullopt;
    }
    // The upsampler follows the last resnet (and its attention, when the level has one).
    if (j == layout.layers && key.Take("conv.")) return RenameLayer(key, {{"", block + "upsamplers.0.conv."}});
    auto inner = *m == 1 ? AttentionInner(key) : std::nullopt;
    return inner ? std::optional(block + "attentions." + Str(j) + "." + *inner) : std::nullopt;
  }
  return std::nullopt;
}

struct UnetDiffusersLayout {
  int layers = 2;
  std::set<int> up_levels_with_attention;
};

UnetDiffusersLayout UnetLayoutFromDiffusers(const std::vector<std::string>& names) {
  UnetDiffusersLayout layout;
  int max_resnet = -1;
  for (const std::string& name : names) {
    KeyReader key(name);
    if (key.Take("down_blocks.")) {
      if (key.TakeIndex() && key.Take("resnets.")) max_resnet = std::max(max_resnet, key.TakeIndex().value_or(-1));
    } else if (key.Take("up_blocks.")) {
      std::optional<int> level = key.TakeIndex();
      if (level && key.Take("attentions.")) layout.up_levels_with_attention.insert(*level);
    }
  }
  if (max_resnet >= 0) layout.layers = max_resnet + 1;
  return layout;
}

std::optional<std::string> UnetDiffusersToLdm(std::string_view name, const UnetDiffusersLayout& layout) {
  KeyReader key(name);
  const int per_level = layout.layers + 1;
  if (key.Take("time_embedding.")) {
    return RenameLayer(key, {{"linear_1.", "time_embed.0."}, {"linear_2.", "time_embed.2."}});
  }
  if (key.Take("conv_in.")) return RenameLayer(key, {{"", "input_blocks.0.0."}});
  if (key.Take("conv_norm_out.")) return RenameLayer(key, {{"", "out.0."}});
  if (key.Take("conv_out.")) return RenameLayer(key, {{"", "out.2."}});
  if (key.Take("down_blocks.")) {
    std::optional<int> level = key.TakeIndex();
    if (!level) return std::nullopt;
    if (key.Take("downsamplers.0.conv.")) {
      return RenameLayer(key, {{"", "input_blocks." + Str(per_level * (*level + 1)) + ".0.op."}});
    }
    const bool resnet = key.Take("resnets.");
    if (!resnet && !key.Take("attentions.")) return std::nullopt;
    std::optional<int> j = key.TakeIndex();
    if (!j || *j >= layout.layers) return std::nullopt;
    const std::string block = "input_blocks." + Str(per_level * *level + *j + 1);
    auto inner = resnet ? RenameLayer(key, kUnetResnetDiffusersToLdm) : AttentionInner(key);
    return inner ? std::optional(block + (resnet ? ".0." : ".1.") + *inner) : std::nullopt;
  }
  if (key.Take("mid_block.")) {
    if (key.Take("attentions.0.")) {
      auto inner = AttentionInner(key);
      return inner ? std::optional("middle_block.1." + *inner) : std::nullopt;
    }
    if (!key.Take("resnets.")) return std::nullopt;
    std::optional<int> j = key.TakeIndex();
    auto inner = (j == 0 || j == 1) ? RenameLayer(key, kUnetResnetDiffusersToLdm) : std::nullopt;
    return inner ? std::optional("middle_block." + Str(2 * *j) + "." + *inner) : std::nullopt;
  }
  if (key.Take("up_blocks.")) {
    std::optional<int> level = key.TakeIndex();
    if (!level) return std::nullopt;
    if (key.Take("upsamplers.0.conv.")) {
      const int m = layout.up_levels_with_attention.count(*level) ? 2 : 1;
      return RenameLayer(key, {{"", "output_blocks." + Str(per_level * *level + layout.layers) + "." +
                                        Str(m) + ".conv."}});
    }
    const bool resnet = key.Take("resnets.");
    if (!resnet && !key.Take("attentions.")) return std::nullopt;
    std::optional<int> j = key.TakeIndex();
    if (!j || *j > layout.layers) return std::nullopt;
    const std::string block = "output_blocks." + Str(per_level * *level + *j);
    auto inner = resnet ? RenameLayer(key, kUnetResnetDiffusersToLdm) : AttentionInner(key);
    return inner ? std::optional(block + (resnet ? ".0." : ".1.") + *inner) : std::nullopt;
  }
  return std::nullopt;
}

// ---- ControlNet (original "cldm" layout) ----
// The trunk (time_embed, input_blocks, middle_block) is named like the UNet's encoder
// half; the ControlNet-only parts are the hint embedding, the zero convs and the
// middle-block output conv.

constexpr std::string_view kHintBlock = "input_hint_block.";
constexpr std::string_view kCondEmbedding = "controlnet_cond_embedding.";

// The hint embedding's last LDM index (its conv_out); odd indices are SiLUs.
int LastHintIndex(const std::vector<std::string_view>& keys) {
  int last = -1;
  for (std::string_view k : keys) {
    KeyReader key(k);
    if (key.Take(kHintBlock)) last = std::max(last, key.TakeIndex().value_or(-1));
  }
  return last;
}

// Number of controlnet_cond_embedding.blocks.* (diffusers).
int CondEmbeddingBlocks(const std::vector<std::string>& names) {
  int count = 0;
  for (const std::string& name : names) {
    KeyReader key(name);
    if (!key.Take(kCondEmbedding) || !key.Take("blocks.")) continue;
    if (std::optional<int> k = key.TakeIndex()) count = std::max(count, *k + 1);
  }
  return count;
}

std::optional<std::string> ControlNetLdmToDiffusers(std::string_view name, const UnetLayout& layout,
                                                    int last_hint) {
  KeyReader key(name);
  if (key.Take(kHintBlock)) {
    std::optional<int> n = key.TakeIndex();
    if (!n || *n % 2 != 0) return std::nullopt;
    std::string target = std::string(kCondEmbedding);
    if (*n == 0) {
      target += "conv_in.";
    } else if (*n == last_hint) {
      target += "conv_out.";
    } else {
      target += "blocks." + Str((*n - 2) / 2) + ".";
    }
    return RenameLayer(key, {{"", target}});
  }
  if (key.Take("zero_convs.")) {
    std::optional<int> i = key.TakeIndex();
    if (!i || !key.Take("0.")) return std::nullopt;
    return RenameLayer(key, {{"", "controlnet_down_blocks." + Str(*i) + "."}});
  }
  if (key.Take("middle_block_out.0.")) return RenameLayer(key, {{"", "controlnet_mid_block."}});
  // The trunk: only the UNet's encoder half exists in a ControlNet.
  if (name.starts_with("time_embed.") || name.starts_with("input_blocks.") ||
      name.starts_with("middle_block.")) {
    return UnetLdmToDiffusers(name, layout);
  }
  return std::nullopt;
}

std::optional<std::string> ControlNetDiffusersToLdm(std::string_view name, const UnetDiffusersLayout& layout,
                                                    int hint_blocks) {
  KeyReader key(name);
  if (key.Take(kCondEmbedding)) {
    if (key.Take("conv_in.")) return RenameLayer(key, {{"", std::string(kHintBlock) + "0."}});
    if (key.Take("conv_out.")) {
      return RenameLayer(key, {{"", std::string(kHintBlock) + Str(2 * hint_blocks + 2) + "."}});
    }
    if (!key.Take("blocks.")) return std::nullopt;
    std::optional<int> k = key.TakeIndex();
    return k ? RenameLayer(key, {{"", std::string(kHintBlock) + Str(2 * *k + 2) + "."}}) : std::nullopt;
  }
  if (key.Take("controlnet_down_blocks.")) {
    std::optional<int> i = key.TakeIndex();
    return i ? RenameLayer(key, {{"", "zero_convs." + Str(*i) + ".0."}}) : std::nullopt;
  }
  if (key.Take("controlnet_mid_block.")) return RenameLayer(key, {{"", "middle_block_out.0."}});
  for (std::string_view trunk : {"time_embedding.", "conv_in.", "down_blocks.", "mid_block."}) {
    if (name.starts_with(trunk)) return UnetDiffusersToLdm(name, layout);
  }
  return std::nullopt;
}

// Lists names in an error message, at most `limit` of them.
std::string NameList(const std::vector<std::string>& names, size_t limit = 40) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += ", ... (" + std::to_string(names.size() - limit) + " more)";
  return out;
}

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

StatusOr<ControlNetNameMap> MapControlNetLdmNames(const std::vector<std::string>& keys) {
  // With the control_model. prefix only those keys are the ControlNet (a whole cldm
  // checkpoint also carries the UNet, VAE and text encoder); without it every key is.
  bool prefixed = false;
  for (const std::string& key : keys) prefixed = prefixed || key.starts_with(kControlNetLdmPrefix);
  const std::string_view prefix = prefixed ? std::string_view(kControlNetLdmPrefix) : std::string_view();

  std::vector<std::string_view> names;
  for (const std::string& key : keys) {
    if (std::string_view(key).starts_with(prefix)) names.push_back(std::string_view(key).substr(prefix.size()));
  }
  const UnetLayout layout = UnetLayoutFromLdm(names);
  const int last_hint = LastHintIndex(names);

  ControlNetNameMap out;
  std::vector<std::string> unmapped;
  std::map<std::string, const std::string*> targets;
  for (const std::string& key : keys) {
    std::string_view k(key);
    if (!k.starts_with(prefix)) {
      out.ignored.push_back(key);
      continue;
    }
    std::optional<std::string> name = ControlNetLdmToDiffusers(k.substr(prefix.size()), layout, last_hint);
    if (!name) {
      unmapped.push_back(key);
      continue;
    }
    auto [it, fresh] = targets.emplace(*name, &key);
    if (!fresh) return InvalidArgument("keys '" + *it->second + "' and '" + key + "' both map to " + *name);
    out.mapped.emplace(key, std::move(*name));
  }
  if (!unmapped.empty()) {
    return InvalidArgument(std::to_string(unmapped.size()) +
                           " unexpected tensor(s) with no counterpart in an SD 1.5 ControlNet: " +
                           NameList(unmapped));
  }
  return out;
}

StatusOr<std::map<std::string, std::string>> MapControlNetDiffusersNamesToLdm(
    const std::vector<std::string>& diffusers_names) {
  const UnetDiffusersLayout layout = UnetLayoutFromDiffusers(diffusers_names);
  const int hint_blocks = CondEmbeddingBlocks(diffusers_names);
  std::map<std::string, std::string> out;
  std::vector<std::string> unmapped;
  for (const std::string& name : diffusers_names) {
    std::optional<std::string> ldm = ControlNetDiffusersToLdm(name, layout, hint_blocks);
    if (!ldm) {
      unmapped.push_back(name);
      continue;
    }
    out.emplace(name, std::string(kControlNetLdmPrefix) + *ldm);
  }
  if (!unmapped.empty()) {
    return InvalidArgument(std::to_string(unmapped.size()) +
                           " ControlNet tensor(s) with no counterpart in the original layout: " +
                           NameList(unmapped));
  }
  return out;
}

}  // namespace farm::sd
