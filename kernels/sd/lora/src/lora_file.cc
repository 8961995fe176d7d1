#include "farm/sd/lora_file.h"

#include "lora_text.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "farm/sd/lora_naming.h"
#include "farm/sd/safetensors.h"
#include "lycoris_module.h"
#include "peft_alpha.h"

namespace farm::sd {
namespace {

bool AllFinite(const at::Tensor& t) { return at::isfinite(t).all().item<bool>(); }

// Everything the file holds for one module (by kohya name).
struct ModuleParts {
  std::vector<std::string> stored;  // the file's names for it; more than one is a conflict
  bool kohya = true;
  std::string component;
  at::Tensor down;
  at::Tensor up;
  at::Tensor mid;
  at::Tensor alpha;
  std::map<std::string, at::Tensor> factors;  // LyCORIS LoHa/LoKr, by factor name
  std::set<std::string> refused_kinds;        // DoRA, OFT, ...: the module is not applied
  std::vector<std::string> duplicates;  // keys giving a role already given
};

// How a naming calls the two factors in messages.
struct FactorNames {
  std::string down, up;
};
FactorNames NamesFor(const ModuleParts& parts) {
  if (parts.kohya) return {"lora_down.weight", "lora_up.weight"};
  return {"lora_A.weight (down)", "lora_B.weight (up)"};
}

// Empty when the parts make a usable module, else what is wrong with them.
std::string CheckParts(const ModuleParts& parts) {
  const FactorNames names = NamesFor(parts);
  if (!parts.down.defined() && !parts.up.defined()) {
    return std::string(parts.mid.defined() ? "has lora_mid.weight" : "has an alpha") + " but no " +
           names.down + " or " + names.up;
  }
  if (!parts.down.defined()) return "has " + names.up + " but no " + names.down;
  if (!parts.up.defined()) return "has " + names.down + " but no " + names.up;
  const at::Tensor& down = parts.down;
  const at::Tensor& up = parts.up;
  if (!IsLoraFloatType(down.scalar_type()) || !IsLoraFloatType(up.scalar_type())) {
    return names.down + "/" + names.up + " must be f16, bf16, f32 or f64, found " +
           c10::toString(down.scalar_type()) + "/" + c10::toString(up.scalar_type());
  }
  const std::string shapes =
      names.down + " " + ShapeText(down.sizes()) + ", " + names.up + " " + ShapeText(up.sizes());
  if (down.dim() != 2 && down.dim() != 4) {
    return names.down + " must be 2-D (linear) or 4-D (conv): " + shapes;
  }
  if (up.dim() != down.dim()) return names.down + " and " + names.up + " differ in rank: " + shapes;
  if (down.size(0) < 1 || up.size(1) != down.size(0)) {
    return names.up + " must be [out, r] for " + names.down + " [r, ...]: " + shapes;
  }
  if (up.dim() == 4 && (up.size(2) != 1 || up.size(3) != 1)) {
    return "a conv " + names.up + " must be [out, r, 1, 1]: " + shapes;
  }
  if (down.numel() == 0 || up.numel() == 0) return "empty tensor: " + shapes;
  if (!AllFinite(down) || !AllFinite(up)) return names.down + "/" + names.up + " contain NaN or infinity";
  if (parts.mid.defined()) {
    const at::Tensor& mid = parts.mid;
    const std::string with_mid = shapes + ", lora_mid.weight " + ShapeText(mid.sizes());
    if (!IsLoraFloatType(mid.scalar_type())) return "lora_mid.weight must be f16, bf16, f32 or f64";
    if (down.dim() != 4 || down.size(2) != 1 || down.size(3) != 1 || mid.dim() != 4 ||
        mid.size(0) != up.size(1) || mid.size(1) != down.size(0)) {
      return "a Tucker LoCon needs a 1x1 down [r, in, 1, 1], lora_mid.weight [r, r, kh, kw] and a "
             "1x1 up [out, r, 1, 1]: " + with_mid;
    }
    if (!AllFinite(mid)) return "lora_mid.weight contains NaN or infinity";
  }
  return {};
}

std::string CheckAlpha(const at::Tensor& alpha) {
  if (!alpha.defined()) return {};
  if (alpha.numel() != 1) return "alpha must be a scalar, found shape " + ShapeText(alpha.sizes());
  if (alpha.scalar_type() == at::kBool || alpha.is_complex()) {
    return std::string("alpha must be a number, found ") + c10::toString(alpha.scalar_type());
  }
  if (!std::isfinite(alpha.to(at::kDouble).item<double>())) return "alpha is NaN or infinite";
  return {};
}

// Fills `module` from LoRA or LyCORIS parts; empty when usable, else what is wrong.
std::string MakeModule(const ModuleParts& parts, LoraModule& module) {
  std::string problem;
  if (parts.factors.empty()) {
    problem = CheckParts(parts);
  } else if (parts.down.defined() || parts.up.defined() || parts.mid.defined()) {
    problem = "mixes LoRA (down/up) and LyCORIS (hada_*/lokr_*) tensors";
  } else {
    problem = MakeLycorisModule(parts.factors, module);
  }
  if (problem.empty()) problem = CheckAlpha(parts.alpha);
  if (!problem.empty() || !parts.factors.empty()) return problem;
  module.down = parts.down.cpu();
  module.up = parts.up.cpu();
  if (parts.mid.defined()) module.mid = parts.mid.cpu();
  module.rank = module.down.size(0);
  return {};
}


constexpr const char* kWhatIsApplied =
    "StudioFarm applies LoRA and LoCon (kohya lora_down/lora_up, or diffusers/PEFT "
    "lora_A/lora_B tensors) and LyCORIS LoHa and LoKr";

std::string JoinKinds(const std::set<std::string>& kinds) {
  std::string text;
  for (const std::string& kind : kinds) text += (text.empty() ? "" : " and ") + kind;
  return text;
}

// The file-level refusal when no module is LoRA: "this is a LoHa (LyCORIS) file ...".
Status RefuseFile(const std::string& source, const std::map<std::string, ModuleParts>& parts) {
  std::set<std::string> kinds;
  size_t modules = 0;
  std::string example;
  for (const auto& [name, module] : parts) {
    if (module.refused_kinds.empty()) continue;
    kinds.insert(module.refused_kinds.begin(), module.refused_kinds.end());
    if (modules++ == 0) example = module.stored.front();
  }
  return InvalidArgument(source + ": this is a " + JoinKinds(kinds) + " file (" +
                         std::to_string(modules) + " module(s), such as " + example + "); " +
                         kWhatIsApplied + ": use a LoRA version of it");
}

}  // namespace

const char* LoraModuleKindName(LoraModuleKind kind) {
  switch (kind) {
    case LoraModuleKind::kLoha: return "LoHa (LyCORIS)";
    case LoraModuleKind::kLokr: return "LoKr (LyCORIS)";
    case LoraModuleKind::kLora: break;
  }
  return "LoRA";
}

std::string FormatLoraIssue(const LoraIssue& issue) {
  return issue.source + ": " + issue.name + ": " + issue.message;
}

StatusOr<LoraFile> LoraFromTensors(const TensorMap& tensors, const std::string& source,
                                   const std::map<std::string, std::string>& metadata) {
  LoraFile file;
  file.source = source;
  file.metadata = metadata;
  try {
    std::map<std::string, ModuleParts> parts;  // by kohya name
    auto part_for = [&](const std::string& module, const std::string& stored) -> ModuleParts& {
      ModuleParts& part = parts[module];
      if (std::find(part.stored.begin(), part.stored.end(), stored) == part.stored.end()) {
        part.stored.push_back(stored);
      }
      return part;
    };
    for (const auto& [key, tensor] : tensors) {
      if (!tensor.defined()) {
        file.problems.push_back({source, key, "undefined tensor"});
      } else if (std::optional<RefusedLoraTensor> refused = RefusedLoraKind(key)) {
        part_for(refused->module, refused->stored).refused_kinds.insert(refused->kind);
      } else if (std::optional<LoraKeyParts> named = ParseLoraKey(key)) {
        ModuleParts& part = part_for(named->module, named->stored);
        if (!named->kohya) {
          part.kohya = false;
          part.component = named->component;
        }
        if (named->role == LoraTensorRole::kFactor) {
          part.factors[named->factor] = tensor;
          continue;
        }
        at::Tensor& slot = named->role == LoraTensorRole::kDown ? part.down
                           : named->role == LoraTensorRole::kUp ? part.up
                           : named->role == LoraTensorRole::kMid ? part.mid
                                                                  : part.alpha;
        if (slot.defined()) part.duplicates.push_back(key);
        slot = tensor;
      } else {
        file.problems.push_back(
            {source, key,
             "not a LoRA tensor (expected <module>.lora_down.weight, .lora_up.weight and "
             ".alpha, or diffusers/PEFT <module>.lora_A.weight and .lora_B.weight)"});
      }
    }
    const PeftAlphas peft = ReadPeftAlphas(metadata);
    if (!peft.problem.empty()) file.problems.push_back({source, kLoraAdapterMetadataKey, peft.problem});
    bool any_lora = false;
    for (const auto& [name, module_parts] : parts) {
      const std::string& stored = module_parts.stored.front();
      if (!module_parts.refused_kinds.empty()) {
        file.problems.push_back({source, stored,
                                 "this is a " + JoinKinds(module_parts.refused_kinds) +
                                     " module; " + kWhatIsApplied});
        continue;
      }
      any_lora = true;
      if (module_parts.stored.size() > 1 || !module_parts.duplicates.empty()) {
        std::string names;
        for (const std::string& other : module_parts.stored) names += " " + other;
        for (const std::string& key : module_parts.duplicates) names += " " + key;
        file.problems.push_back(
            {source, stored, "given more than once (as" + names + "), all for " + name});
        continue;
      }
      LoraModule module;
      module.name = name;
      module.stored_name = stored;
      if (std::string problem = MakeModule(module_parts, module); !problem.empty()) {
        file.problems.push_back({source, stored, std::move(problem)});
        continue;
      }
      module.alpha_stored = module_parts.alpha.defined();
      module.alpha = module.alpha_stored ? module_parts.alpha.to(at::kDouble).item<double>()
                                         : static_cast<double>(module.rank);
      if (auto it = peft.by_component.find(module_parts.component);
          !module.alpha_stored && !module_parts.kohya && it != peft.by_component.end()) {
        module.alpha = PeftModuleAlpha(it->second, static_cast<double>(module.rank));
        module.alpha_stored = true;
      }
      file.modules.push_back(std::move(module));
    }
    if (!any_lora && !parts.empty()) return RefuseFile(source, parts);
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
