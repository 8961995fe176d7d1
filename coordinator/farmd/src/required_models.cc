#include "required_models.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "farm/schemas/render_params.h"

namespace farm::farmd {

std::vector<std::string> RequiredModels(const store::Job& job) {
  if (job.kind == store::JobKind::kTrain) {
    // The base checkpoint the LoRA trains on ("checkpoint" of the TrainParams record).
    const nlohmann::json params = nlohmann::json::parse(job.params_json, nullptr, false);
    if (params.is_object() && params.contains("checkpoint") && params["checkpoint"].is_string() &&
        !params["checkpoint"].get<std::string>().empty()) {
      return {params["checkpoint"].get<std::string>()};
    }
    return {};
  }
  if (job.kind != store::JobKind::kRender) return {};
  StatusOr<RenderParams> params = RenderParamsFromJson(job.params_json);
  if (!params.ok()) return {};
  std::vector<std::string> models;
  if (!params->checkpoint_sha256.empty()) models.push_back(params->checkpoint_sha256);
  if (!params->vae_sha256.empty()) models.push_back(params->vae_sha256);
  for (const auto& [name, sha256] : params->embeddings) models.push_back(sha256);
  constexpr std::string_view kByHash = "sha256:";
  for (const LoraRef& lora : params->loras) {
    // A trained LoRA ("train:...") becomes a file only when its job ends: no hash yet.
    if (lora.ref.rfind(kByHash, 0) == 0 && lora.ref.size() > kByHash.size()) {
      models.push_back(lora.ref.substr(kByHash.size()));
    }
  }
  for (const ControlNetUnit& unit : params->controlnets) {
    if (!unit.model_sha256.empty()) models.push_back(unit.model_sha256);
  }
  std::sort(models.begin(), models.end());
  models.erase(std::unique(models.begin(), models.end()), models.end());
  return models;
}

}  // namespace farm::farmd
