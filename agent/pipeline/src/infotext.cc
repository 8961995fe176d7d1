#include "infotext.h"

#include <filesystem>

#include "farm/schemas/render_infotext.h"

namespace farm::pipeline {

StatusOr<farm::image::GenerationParameters> MakeInfotext(const farm::RenderParams& p,
                                                         const ModelPaths& models,
                                                         const farm::image::Image& final_image,
                                                         const std::string& param_hash,
                                                         const std::string& render_id,
                                                         const std::vector<std::string>& embeddings_used) {
  farm::RenderInfotextNames names;
  if (!models.checkpoint.empty()) names.model = std::filesystem::path(models.checkpoint).stem().string();
  for (const auto& lora : models.loras) names.loras.push_back(std::filesystem::path(lora.first).stem().string());
  names.embeddings_used = embeddings_used;
  names.final_width = final_image.width;
  names.final_height = final_image.height;
  return farm::RenderGenerationParameters(p, names, param_hash, render_id);
}

}  // namespace farm::pipeline
