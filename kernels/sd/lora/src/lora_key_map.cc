#include "farm/sd/lora_key_map.h"

namespace farm::sd {
namespace {
constexpr std::string_view kWeightSuffix = ".weight";
}  // namespace

std::string KohyaModuleName(std::string_view prefix, std::string_view module) {
  std::string name(prefix);
  name += '_';
  for (char c : module) name += (c == '.') ? '_' : c;
  return name;
}

void LoraKeyMap::AddComponent(const std::string& component, std::string_view prefix,
                              const std::vector<std::string>& weight_keys) {
  for (const std::string& key : weight_keys) {
    if (key.size() <= kWeightSuffix.size() ||
        std::string_view(key).substr(key.size() - kWeightSuffix.size()) != kWeightSuffix) {
      continue;
    }
    std::string module = key.substr(0, key.size() - kWeightSuffix.size());
    std::string name = KohyaModuleName(prefix, module);
    std::string where = component + "/" + key;
    if (auto clash = ambiguous_.find(name); clash != ambiguous_.end()) {
      clash->second.push_back(std::move(where));
      continue;
    }
    auto [it, inserted] = targets_.emplace(name, LoraTarget{component, std::move(module), key});
    if (!inserted) {
      ambiguous_[name] = {it->second.component + "/" + it->second.weight_key, std::move(where)};
      targets_.erase(it);
    }
  }
}

const LoraTarget* LoraKeyMap::Find(const std::string& kohya_name) const {
  auto it = targets_.find(kohya_name);
  return it == targets_.end() ? nullptr : &it->second;
}

size_t LoraKeyMap::size() const { return targets_.size(); }

const std::map<std::string, std::vector<std::string>>& LoraKeyMap::ambiguous() const {
  return ambiguous_;
}

std::vector<std::string> TensorMapKeys(const TensorMap& tensors) {
  std::vector<std::string> keys;
  keys.reserve(tensors.size());
  for (const auto& entry : tensors) keys.push_back(entry.first);
  return keys;
}

LoraKeyMap BuildSdLoraKeyMap(const SdWeights& weights) {
  LoraKeyMap map;
  map.AddComponent("unet", kLoraUnetPrefix, TensorMapKeys(weights.unet));
  map.AddComponent("text_encoder", kLoraTextEncoderPrefix, TensorMapKeys(weights.text_encoder));
  return map;
}

}  // namespace farm::sd
