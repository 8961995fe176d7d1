#include "peft_alpha.h"

#include <cmath>

#include "farm/sd/json.h"

namespace farm::sd {
namespace {

// `<component>.<name>` in a pipeline save, else `<name>`.
const Json* Setting(const Json& config, const std::string& component, const std::string& name) {
  if (const Json* value = config.Find(component + "." + name)) return value;
  return config.Find(name);
}

}  // namespace

PeftAlphas ReadPeftAlphas(const std::map<std::string, std::string>& metadata) {
  PeftAlphas alphas;
  auto it = metadata.find(kLoraAdapterMetadataKey);
  if (it == metadata.end()) return alphas;
  auto config = Json::Parse(it->second);
  if (!config.ok() || !config->is_object()) {
    alphas.problem = "not a JSON object, so the LoRA scale (lora_alpha) is unknown";
    return alphas;
  }
  for (const std::string component : {"unet", "text_encoder"}) {
    PeftAlpha peft;
    if (const Json* alpha = Setting(*config, component, "lora_alpha"); alpha && alpha->is_number()) {
      peft.lora_alpha = alpha->number();
    }
    if (const Json* rslora = Setting(*config, component, "use_rslora"); rslora && rslora->is_bool()) {
      peft.rslora = rslora->boolean();
    }
    // Per-module alphas are regular expressions over PEFT module names; following them
    // half-way would merge some modules at the wrong scale.
    if (const Json* pattern = Setting(*config, component, "alpha_pattern");
        pattern && pattern->is_object() && !pattern->members().empty()) {
      alphas.problem = "alpha_pattern (per-module lora_alpha) is not supported; expected one "
                       "lora_alpha per component or .alpha tensors";
    }
    if (peft.lora_alpha || peft.rslora) alphas.by_component[component] = peft;
  }
  return alphas;
}

double PeftModuleAlpha(const PeftAlpha& peft, double rank) {
  const double lora_alpha = peft.lora_alpha.value_or(rank);
  return peft.rslora ? lora_alpha * std::sqrt(rank) : lora_alpha;
}

}  // namespace farm::sd
