// The UNet's LDM <-> diffusers names (also the ControlNet's trunk). See ldm_names.cc.
#include <algorithm>

#include "name_rules.h"

namespace farm::sd::name_rules {
namespace {

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

}  // namespace

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

}  // namespace farm::sd::name_rules
