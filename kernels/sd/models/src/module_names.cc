#include "module_names.h"

namespace farm::sd {

std::vector<std::string> WeightModuleNames(const TensorMap& weights) {
  static const std::string kSuffix = ".weight";
  std::vector<std::string> names;
  for (const auto& [key, tensor] : weights) {
    if (key.size() > kSuffix.size() &&
        key.compare(key.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
      names.push_back(key.substr(0, key.size() - kSuffix.size()));
    }
  }
  return names;
}

}  // namespace farm::sd
