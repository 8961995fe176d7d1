// Which layers a kohya LoRA trains, and in which order (the order of kohya's
// LoRANetwork.parameters(): optimizer groups and the float32 sum in the grad-norm clip).
#include <algorithm>
#include <array>
#include <regex>
#include <tuple>

#include "farm/sd/lora_key_map.h"
#include "farm/sd/lora_network.h"

namespace farm::sd {
namespace {

// Module registration order inside a diffusers transformer block.
int TransformerLayerOrder(const std::string& attention, const std::string& layer) {
  static const std::array<const char*, 4> kAttention = {"to_q", "to_k", "to_v", "to_out.0"};
  for (size_t i = 0; i < kAttention.size(); ++i) {
    if (layer == kAttention[i]) return (attention == "attn1" ? 0 : 4) + static_cast<int>(i);
  }
  return layer == "0.proj" ? 8 : 9;  // ff.net.0.proj (GEGLU), ff.net.2
}

// transformers' CLIPEncoderLayer registers self_attn (k, v, q, out) before mlp (fc1, fc2).
int TextLayerOrder(const std::string& layer) {
  static const std::array<const char*, 6> kOrder = {"self_attn.k_proj", "self_attn.v_proj",
                                                    "self_attn.q_proj", "self_attn.out_proj",
                                                    "mlp.fc1", "mlp.fc2"};
  return static_cast<int>(std::find(kOrder.begin(), kOrder.end(), layer) - kOrder.begin());
}

using SortKey = std::array<int, 7>;

bool TargetShape(const at::Tensor& weight, bool* conv1x1) {
  if (weight.dim() == 2) return (*conv1x1 = false), true;
  if (weight.dim() == 4 && weight.size(2) == 1 && weight.size(3) == 1) return (*conv1x1 = true), true;
  return false;
}

}  // namespace

std::vector<LoraTargetModule> KohyaLoraTargets(const UNet& unet, const ClipTextModel& text_encoder,
                                               const LoraNetworkOptions& options) {
  std::vector<std::pair<SortKey, LoraTargetModule>> found;
  auto add = [&](SortKey key, const std::string& module, LoraGroup group, std::string_view prefix,
                 const at::Tensor& weight) {
    LoraTargetModule target;
    if (!TargetShape(weight, &target.conv1x1)) return;
    target.module = module;
    target.kohya_name = KohyaModuleName(prefix, module);
    target.group = group;
    target.out = weight.size(0);
    target.in = weight.size(1);
    found.emplace_back(key, std::move(target));
  };
  if (options.train_text_encoder) {
    static const std::regex kText(
        R"(text_model\.encoder\.layers\.(\d+)\.(self_attn\.(?:k|v|q|out)_proj|mlp\.fc[12])\.weight)");
    for (const auto& [key, weight] : text_encoder.weights()) {
      std::smatch m;
      if (!std::regex_match(key, m, kText)) continue;
      add({0, std::stoi(m[1]), TextLayerOrder(m[2]), 0, 0, 0, 0}, key.substr(0, key.size() - 7),
          LoraGroup::kTextEncoder, kLoraTextEncoderPrefix, weight);
    }
  }
  if (options.train_unet) {
    static const std::regex kUnet(
        R"((down_blocks\.(\d+)|up_blocks\.(\d+)|mid_block)\.attentions\.(\d+)\.)"
        R"((proj_in|proj_out|transformer_blocks\.(\d+)\.(?:(attn[12])\.(to_q|to_k|to_v|to_out\.0)|ff\.net\.(0\.proj|2)))\.weight)");
    for (const auto& [key, weight] : unet.weights()) {
      std::smatch m;
      if (!std::regex_match(key, m, kUnet)) continue;
      // named_modules() order: down_blocks, up_blocks, then mid_block.
      const int block_kind = m[2].matched ? 0 : m[3].matched ? 1 : 2;
      const int block = m[2].matched ? std::stoi(m[2]) : m[3].matched ? std::stoi(m[3]) : 0;
      const std::string part = m[5];
      const int part_order = part == "proj_in" ? 0 : part == "proj_out" ? 2 : 1;
      const int depth = m[6].matched ? std::stoi(m[6]) : 0;
      const int layer = part_order != 1 ? 0
                        : m[7].matched ? TransformerLayerOrder(m[7], m[8])
                                       : TransformerLayerOrder("", m[9]);
      add({1, block_kind, block, std::stoi(m[4]), part_order, depth, layer},
          key.substr(0, key.size() - 7), LoraGroup::kUnet, kLoraUnetPrefix, weight);
    }
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<LoraTargetModule> targets;
  targets.reserve(found.size());
  for (auto& entry : found) targets.push_back(std::move(entry.second));
  return targets;
}

}  // namespace farm::sd
