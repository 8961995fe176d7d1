// ControlNet names, original ("cldm") layout <-> diffusers. The trunk (time_embed,
// input_blocks, middle_block) is named like the UNet's encoder half and renamed by the
// UNet's maps; the ControlNet-only parts are the hint embedding, the zero convs and the
// middle-block output conv.
#include <algorithm>
#include <map>

#include "farm/sd/controlnet_checkpoint.h"
#include "name_rules.h"

namespace farm::sd {
namespace {

using namespace name_rules;

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

}  // namespace

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
