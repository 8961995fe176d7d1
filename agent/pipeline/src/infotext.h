// The A1111 infotext of a finished render (the PNG `parameters` chunk).
#pragma once

#include <string>
#include <vector>

#include "farm/image/png_parameters.h"
#include "farm/pipeline/recipe.h"

namespace farm::pipeline {

// Steps, Sampler, CFG scale, Seed, Size (the render's txt2img size), Model hash, Model,
// Clip skip, Lora hashes, TI hashes (the embeddings in `embeddings_used`), then Pose, Tone, RNG, Version, Final size, "StudioFarm params"
// (the canonical JSON of the params: the full record reads back from the PNG),
// StudioFarm param_hash, Render id.
StatusOr<farm::image::GenerationParameters> MakeInfotext(const farm::RenderParams& params,
                                                         const ModelPaths& models,
                                                         const farm::image::Image& final_image,
                                                         const std::string& param_hash,
                                                         const std::string& render_id,
                                                         const std::vector<std::string>& embeddings_used);

}  // namespace farm::pipeline
