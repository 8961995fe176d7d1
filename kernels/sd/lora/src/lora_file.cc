#include "farm/sd/lora_file.h"

#include "lora_text.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <exception>
#include <memory>
#include <sstream>
#include <string_view>
#include <utility>

#include "farm/sd/safetensors.h"

namespace farm::sd {
namespace {

constexpr std::string_view kDownSuffix = ".lora_down.weight";
constexpr std::string_view kUpSuffix = ".lora_up.weight";
constexpr std::string_view kAlphaSuffix = ".alpha";

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() > suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}


bool AllFinite(const at::Tensor& t) { return at::isfinite(t).all().item<bool>(); }

struct ModuleParts {
  at::Tensor down;
  at::Tensor up;
  at::Tensor alpha;
};

// Empty when the parts make a usable module, else what is wrong with them.
std::string CheckParts(const ModuleParts& parts) {
  if (!parts.down.defined()) return "has lora_up.weight but no lora_down.weight";
  if (!parts.up.defined()) return "has lora_down.weight but no lora_up.weight";
  const at::Tensor& down = parts.down;
  const at::Tensor& up = parts.up;
  if (!IsLoraFloatType(down.scalar_type()) || !IsLoraFloatType(up.scalar_type())) {
    return std::string("lora_down/lora_up must be f16, bf16, f32 or f64, found ") +
           c10::toString(down.scalar_type()) + "/" + c10::toString(up.scalar_type());
  }
  const std::string shapes =
      "lora_down.weight " + ShapeText(down.sizes()) + ", lora_up.weight " + ShapeText(up.sizes());
  if (down.dim() != 2 && down.dim() != 4) {
    return "lora_down.weight must be 2-D (linear) or 4-D (conv): " + shapes;
  }
  if (up.dim() != down.dim()) return "lora_down.weight and lora_up.weight differ in rank: " + shapes;
  if (down.size(0) < 1 || up.size(1) != down.size(0)) {
    return "lora_up.weight must be [out, r] for lora_down.weight [r, ...]: " + shapes;
  }
  if (up.dim() == 4 && (up.size(2) != 1 || up.size(3) != 1)) {
    return "a conv lora_up.weight must be [out, r, 1, 1]: " + shapes;
  }
  if (down.numel() == 0 || up.numel() == 0) return "empty tensor: " + shapes;
  if (!AllFinite(down) || !AllFinite(up)) return "lora_down/lora_up contain NaN or infinity";
  if (parts.alpha.defined()) {
    const at::Tensor& alpha = parts.alpha;
    if (alpha.numel() != 1) return "alpha must be a scalar, found shape " + ShapeText(alpha.sizes());
    if (alpha.scalar_type() == at::kBool || alpha.is_complex()) {
      return std::string("alpha must be a number, found ") + c10::toString(alpha.scalar_type());
    }
    if (!std::isfinite(alpha.to(at::kDouble).item<double>())) return "alpha is NaN or infinite";
  }
  return {};
}

}  // namespace

std::string FormatLoraIssue(const LoraIssue& issue) {
  return issue.source + ": " + issue.name + ": " + issue.message;
}

StatusOr<LoraFile> LoraFromTensors(const TensorMap& tensors, const std::string& source,
                                   const std::map<std::string, std::string>& metadata) {
  LoraFile file;
  file.source = source;
  file.metadata = metadata;
  try {
    std::map<std::string, ModuleParts> parts;
    for (const auto& [key, tensor] : tensors) {
      if (!tensor.defined()) {
        file.problems.push_back({source, key, "undefined tensor"});
      } else if (EndsWith(key, kDownSuffix)) {
        parts[key.substr(0, key.size() - kDownSuffix.size())].down = tensor;
      } else if (EndsWith(key, kUpSuffix)) {
        parts[key.substr(0, key.size() - kUpSuffix.size())].up = tensor;
      } else if (EndsWith(key, kAlphaSuffix)) {
        parts[key.substr(0, key.size() - kAlphaSuffix.size())].alpha = tensor;
      } else {
        file.problems.push_back(
            {source, key,
             "not a kohya LoRA tensor (expected <module>.lora_down.weight, "
             "<module>.lora_up.weight or <module>.alpha)"});
      }
    }
    for (const auto& [name, module_parts] : parts) {
      if (std::string problem = CheckParts(module_parts); !problem.empty()) {
        file.problems.push_back({source, name, std::move(problem)});
        continue;
      }
      LoraModule module;
      module.name = name;
      module.down = module_parts.down.cpu();
      module.up = module_parts.up.cpu();
      module.rank = module.down.size(0);
      module.alpha_stored = module_parts.alpha.defined();
      module.alpha = module.alpha_stored ? module_parts.alpha.to(at::kDouble).item<double>()
                                         : static_cast<double>(module.rank);
      file.modules.push_back(std::move(module));
    }
  } catch (const std::exception& e) {  // c10::Error derives from std::exception
    return InvalidArgument("LoRA " + source + ": " + e.what());
  }
  return file;
}

StatusOr<LoraFile> ReadLoraFile(const std::string& path) {
  FARM_ASSIGN_OR_RETURN(std::shared_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
  TensorMap tensors;
  for (const TensorInfo& info : file->tensors()) {
    FARM_ASSIGN_OR_RETURN(at::Tensor tensor, file->Load(info.name));
    tensors.emplace(info.name, std::move(tensor));
  }
  return LoraFromTensors(tensors, path, file->metadata());
}

}  // namespace farm::sd
