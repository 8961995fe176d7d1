// The A1111 infotext of a farm render, from its canonical params: the text the agent
// writes into the PNG's `parameters` chunk and farmctl prints (top, show, export), so the
// two never drift apart.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "farm/schemas/infotext.h"
#include "farm/schemas/render_params.h"
#include "farm/schemas/status.h"

namespace farm {

// What the params alone do not say: names the front end shows, the final image size.
struct RenderInfotextNames {
  std::string model;               // checkpoint file name without extension; empty: no "Model"
  std::vector<std::string> loras;  // LoRA names in params.loras order; a missing one is "lora<i>"
  // The embeddings the prompts used (A1111 lists only those); nullopt: every one of
  // params.embeddings.
  std::optional<std::vector<std::string>> embeddings_used;
  int final_width = 0;             // the image after every stage; 0: no "Final size"
  int final_height = 0;
};

// Steps, Sampler, CFG scale, Seed, Size (the txt2img size), Model hash, Model, VAE hash,
// Clip skip, Lora hashes, TI hashes (name: first 12 hex digits of the SHA-256, as A1111),
// then Pose, Tone, RNG, Version, Final size, "StudioFarm params" (the
// canonical JSON of the params: the full record reads back from the PNG),
// StudioFarm param_hash, Render id. InvalidArgument when the params have no canonical JSON.
StatusOr<GenerationParameters> RenderGenerationParameters(const RenderParams& params,
                                                          const RenderInfotextNames& names,
                                                          const std::string& param_hash,
                                                          const std::string& render_id);

}  // namespace farm
