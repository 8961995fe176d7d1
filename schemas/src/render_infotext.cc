#include "farm/schemas/render_infotext.h"

#include <algorithm>

#include "farm/schemas/samplers.h"

namespace farm {

StatusOr<GenerationParameters> RenderGenerationParameters(const RenderParams& p,
                                                          const RenderInfotextNames& names,
                                                          const std::string& param_hash,
                                                          const std::string& render_id) {
  RenderInfotext info;
  info.prompt = p.prompt;
  info.negative_prompt = p.negative_prompt;
  info.steps = p.steps;
  info.sampler = p.scheduler.empty() ? p.sampler : FrontEndSamplerName({p.sampler, p.scheduler});
  info.cfg_scale = p.cfg;
  info.seed = static_cast<std::int64_t>(p.seed);
  info.width = p.width;
  info.height = p.height;
  info.model_hash = p.checkpoint_sha256.substr(0, 10);
  info.model = names.model;
  // A1111 writes the first 10 hex digits of the VAE file's SHA-256 (names are not in records).
  info.vae_hash = p.vae_sha256.substr(0, 10);
  info.clip_skip = p.clip_skip;
  for (size_t i = 0; i < p.loras.size(); ++i) {
    std::string name = i < names.loras.size() && !names.loras[i].empty() ? names.loras[i]
                                                                          : "lora" + std::to_string(i);
    std::string hash = p.loras[i].ref;
    if (hash.rfind("sha256:", 0) == 0) hash = hash.substr(7, 12);
    info.loras.push_back({name, hash});
  }
  for (const auto& [name, sha256] : p.embeddings) {
    const bool used = !names.embeddings_used ||
                      std::find(names.embeddings_used->begin(), names.embeddings_used->end(), name) !=
                          names.embeddings_used->end();
    if (used) info.embeddings.push_back({name, sha256.substr(0, 12)});
  }
  if (!p.pose.empty()) info.extra.emplace_back("Pose", p.pose);
  if (!p.tone.empty()) info.extra.emplace_back("Tone", p.tone);
  info.extra.emplace_back("RNG", p.rng == "cpu" ? "CPU" : p.rng);
  info.extra.emplace_back("Version", p.engine);
  if (names.final_width > 0 && names.final_height > 0) {
    info.extra.emplace_back("Final size",
                            std::to_string(names.final_width) + "x" + std::to_string(names.final_height));
  }
  FARM_ASSIGN_OR_RETURN(std::string record, ToCanonicalJson(p));
  info.extra.emplace_back("StudioFarm params", record);
  info.param_hash = param_hash;
  info.render_id = render_id;
  return ToGenerationParameters(info);
}

}  // namespace farm
