#include "farm/sd/lora_merge.h"

#include "lora_text.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <exception>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "farm/sd/lora_key_map.h"

namespace farm::sd {
namespace {

// How many issues a refusal lists before summarising the rest.
constexpr size_t kIssuesListed = 32;


struct PlannedMerge {
  const LoraModule* module;
  double multiplier;
  const std::string* source;
  const LoraTarget* target;
  at::Tensor weight;
};

std::string UnknownModuleMessage(const std::vector<LoraComponent>& components) {
  std::string message = "unknown module: matches no weight of";
  for (size_t i = 0; i < components.size(); ++i) {
    message += (i == 0 ? " " : (i + 1 == components.size() ? " or " : ", "));
    message += components[i].name + " (" + components[i].prefix + "_<module path, '.' -> '_'>)";
  }
  return message;
}

std::string RefusalMessage(const std::vector<LoraIssue>& issues) {
  std::string message = "LoRA merge refused, nothing was changed; " +
                         std::to_string(issues.size()) + " part(s) cannot be applied:";
  for (size_t i = 0; i < issues.size() && i < kIssuesListed; ++i) {
    message += "\n  " + FormatLoraIssue(issues[i]);
  }
  if (issues.size() > kIssuesListed) {
    message += "\n  ... and " + std::to_string(issues.size() - kIssuesListed) +
               " more (merge with strict = false to get all of them in the report)";
  }
  return message;
}

// A LoRA's product has the weight's shape. A LyCORIS product may flatten a conv's
// [in, kh, kw] (hada_w1_b [r, in*kh*kw]); A1111 reshapes it to the weight when the output
// rows and the sizes agree, and so does the merge.
bool FitsWeight(const LoraModule& module, const at::Tensor& weight) {
  const std::vector<int64_t> fits = LoraWeightShape(module);
  if (weight.sizes() == at::IntArrayRef(fits)) return true;
  if (module.kind == LoraModuleKind::kLora || fits.empty() || weight.dim() == 0) return false;
  int64_t numel = 1;
  for (int64_t d : fits) numel *= d;
  return weight.size(0) == fits[0] && weight.numel() == numel;
}

std::string FactorsText(const LoraModule& module) {
  if (module.kind == LoraModuleKind::kLora) {
    return "up " + ShapeText(module.up.sizes()) + " @ down " + ShapeText(module.down.sizes());
  }
  std::string text = std::string(LoraModuleKindName(module.kind)) + " factors";
  for (const auto& [name, tensor] : module.factors) text += " " + name + " " + ShapeText(tensor.sizes());
  return text;
}

Status CheckComponents(const std::vector<LoraComponent>& components) {
  std::set<std::string> names, prefixes;
  for (const LoraComponent& component : components) {
    if (component.weights == nullptr) {
      return InvalidArgument("LoRA component " + component.name + " has no weights");
    }
    if (!names.insert(component.name).second || !prefixes.insert(component.prefix).second) {
      return InvalidArgument("LoRA component " + component.name + " (" + component.prefix +
                             ") is listed twice");
    }
  }
  return Status::Ok();
}

}  // namespace

std::vector<LoraComponent> SdLoraComponents(SdWeights& weights) {
  return {{"unet", std::string(kLoraUnetPrefix), &weights.unet},
          {"text_encoder", std::string(kLoraTextEncoderPrefix), &weights.text_encoder}};
}

MergedLoras::MergedLoras(MergedLoras&& other) noexcept
    : saved_(std::move(other.saved_)), report_(std::move(other.report_)) {
  other.saved_.clear();
}

MergedLoras& MergedLoras::operator=(MergedLoras&& other) noexcept {
  if (this != &other) {
    (void)Unmerge();
    saved_ = std::move(other.saved_);
    report_ = std::move(other.report_);
    other.saved_.clear();
  }
  return *this;
}

MergedLoras::~MergedLoras() { (void)Unmerge(); }

Status MergedLoras::Unmerge() {
  try {
    at::NoGradGuard no_grad;
    // Newest first, although each weight is saved once, before its first change.
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) it->live.copy_(it->original);
  } catch (const std::exception& e) {
    return Internal(std::string("LoRA unmerge failed: ") + e.what());
  }
  saved_.clear();
  return Status::Ok();
}

void MergedLoras::KeepMerged() { saved_.clear(); }

size_t MergedLoras::saved_weights() const { return saved_.size(); }

const LoraMergeReport& MergedLoras::report() const { return report_; }

StatusOr<MergedLoras> MergeLoras(const std::vector<LoraComponent>& components,
                                 const std::vector<LoraApplication>& loras,
                                 const LoraMergeOptions& options) {
  FARM_RETURN_IF_ERROR(CheckComponents(components));
  LoraKeyMap key_map;
  std::map<std::string, TensorMap*> weights_of;
  for (const LoraComponent& component : components) {
    key_map.AddComponent(component.name, component.prefix, TensorMapKeys(*component.weights));
    weights_of[component.name] = component.weights;
  }

  // Plan and check everything first, so a refusal leaves the weights untouched.
  std::vector<LoraIssue> issues;
  std::vector<PlannedMerge> plan;
  for (const LoraApplication& application : loras) {
    if (application.lora == nullptr) return InvalidArgument("LoRA merge: a LoRA is missing");
    const LoraFile& lora = *application.lora;
    if (!std::isfinite(application.multiplier)) {
      return InvalidArgument("LoRA " + lora.source + ": multiplier is not finite");
    }
    issues.insert(issues.end(), lora.problems.begin(), lora.problems.end());
    for (const LoraModule& module : lora.modules) {
      // Named as the file names it; a diffusers/PEFT name also shows its kohya form.
      const std::string& shown = module.stored_name.empty() ? module.name : module.stored_name;
      const LoraTarget* target = key_map.Find(module.name);
      if (target == nullptr) {
        auto clash = key_map.ambiguous().find(module.name);
        std::string message = UnknownModuleMessage(components);
        if (clash != key_map.ambiguous().end()) {
          message = "ambiguous module: matches several weights:";
          for (const std::string& where : clash->second) message += " " + where;
        }
        if (shown != module.name) message += " (looked up as " + module.name + ")";
        issues.push_back({lora.source, shown, std::move(message)});
        continue;
      }
      const at::Tensor& weight = weights_of.at(target->component)->at(target->weight_key);
      const std::string where = target->component + "/" + target->weight_key;
      if (!weight.defined() || !IsLoraFloatType(weight.scalar_type())) {
        issues.push_back({lora.source, shown, "weight " + where + " is not a float tensor"});
        continue;
      }
      if (!FitsWeight(module, weight)) {
        issues.push_back({lora.source, shown,
                          "shape mismatch: weight " + where + " is " + ShapeText(weight.sizes()) +
                              " but " + FactorsText(module) + " gives " +
                              ShapeText(LoraWeightShape(module))});
        continue;
      }
      plan.push_back({&module, application.multiplier, &lora.source, target, weight});
    }
  }
  if (options.strict && !issues.empty()) return InvalidArgument(RefusalMessage(issues));

  MergedLoras merged;
  merged.report_.skipped = std::move(issues);
  std::set<const c10::TensorImpl*> saved;
  const PlannedMerge* current = nullptr;
  try {
    at::NoGradGuard no_grad;
    for (const PlannedMerge& step : plan) {
      current = &step;
      at::Tensor weight = step.weight;
      if (saved.insert(weight.unsafeGetTensorImpl()).second) {
        merged.saved_.push_back(
            {weight, weight.to(at::kCPU, weight.scalar_type(), /*non_blocking=*/false,
                               /*copy=*/true)});
      }
      at::Tensor delta = LoraDelta(*step.module, step.multiplier, weight.device()).reshape(weight.sizes());
      if (weight.scalar_type() == at::kHalf || weight.scalar_type() == at::kBFloat16) {
        weight.copy_(weight.to(at::kFloat).add_(delta));  // one rounding to the weight's dtype
      } else {
        weight.add_(delta);
      }
      merged.report_.applied.push_back(
          {*step.source, step.module->name, step.target->component, step.target->weight_key});
    }
  } catch (const std::exception& e) {
    (void)merged.Unmerge();
    std::string where = current ? *current->source + ": " + current->module->name + ": " : "";
    return Internal("LoRA merge failed, weights restored: " + where + e.what());
  }
  return merged;
}

StatusOr<MergedLoras> MergeLoras(SdWeights& weights, const std::vector<LoraApplication>& loras,
                                 const LoraMergeOptions& options) {
  return MergeLoras(SdLoraComponents(weights), loras, options);
}

}  // namespace farm::sd
