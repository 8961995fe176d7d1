#include "infotext.h"

#include <filesystem>

#include "farm/schemas/samplers.h"

namespace farm::pipeline {

StatusOr<farm::image::GenerationParameters> MakeInfotext(const farm::RenderParams& p,
                                                         const ModelPaths& models,
                                                         const farm::image::Image& final_image,
                                                         const std::string& param_hash,
                                                         const std::string& render_id) {
  farm::image::RenderInfotext info;
  info.prompt = p.prompt;
  info.negative_prompt = p.negative_prompt;
  info.steps = p.steps;
  info.sampler = p.scheduler.empty() ? p.sampler : FrontEndSamplerName({p.sampler, p.scheduler});
  info.cfg_scale = p.cfg;
  info.seed = static_cast<int64_t>(p.seed);
  info.width = p.width;
  info.height = p.height;
  info.model_hash = p.checkpoint_sha256.substr(0, 10);
  if (!models.checkpoint.empty()) info.model = std::filesystem::path(models.checkpoint).stem().string();
  info.clip_skip = p.clip_skip;
  for (size_t i = 0; i < p.loras.size(); ++i) {
    std::string name = i < models.loras.size()
                           ? std::filesystem::path(models.loras[i].first).stem().string()
                           : "lora" + std::to_string(i);
    std::string hash = p.loras[i].ref;
    if (hash.rfind("sha256:", 0) == 0) hash = hash.substr(7, 12);
    info.loras.push_back({name, hash});
  }
  if (!p.pose.empty()) info.extra.emplace_back("Pose", p.pose);
  if (!p.tone.empty()) info.extra.emplace_back("Tone", p.tone);
  info.extra.emplace_back("RNG", p.rng == "cpu" ? "CPU" : p.rng);
  info.extra.emplace_back("Version", p.engine);
  info.extra.emplace_back("Final size",
                          std::to_string(final_image.width) + "x" + std::to_string(final_image.height));
  FARM_ASSIGN_OR_RETURN(std::string record, farm::ToCanonicalJson(p));
  info.extra.emplace_back("StudioFarm params", record);
  info.param_hash = param_hash;
  info.render_id = render_id;
  return farm::image::ToGenerationParameters(info);
}

}  // namespace farm::pipeline
