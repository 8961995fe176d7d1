#include "farm/schemas/infotext.h"

namespace farm {

GenerationParameters ToGenerationParameters(const RenderInfotext& info) {
  GenerationParameters params;
  params.prompt = info.prompt;
  params.negative_prompt = info.negative_prompt;
  auto add = [&](const char* key, std::string value) {
    if (!value.empty()) params.fields.emplace_back(key, std::move(value));
  };
  if (info.steps > 0) add("Steps", std::to_string(info.steps));
  add("Sampler", info.sampler);
  if (info.cfg_scale > 0) add("CFG scale", FormatInfotextNumber(info.cfg_scale));
  add("Seed", std::to_string(info.seed));
  if (info.width > 0 && info.height > 0) {
    add("Size", std::to_string(info.width) + "x" + std::to_string(info.height));
  }
  add("Model hash", info.model_hash);
  add("Model", info.model);
  add("VAE hash", info.vae_hash);
  if (info.clip_skip > 0) add("Clip skip", std::to_string(info.clip_skip));
  if (!info.loras.empty()) {
    std::string hashes;
    for (const LoraHash& lora : info.loras) {
      if (!hashes.empty()) hashes += ", ";
      hashes += lora.name + ": " + lora.hash;
    }
    add("Lora hashes", hashes);
  }
  if (!info.embeddings.empty()) {
    std::string hashes;
    for (const LoraHash& embedding : info.embeddings) {
      std::string name;
      for (char c : embedding.name) {
        if (c != ':' && c != ',') name += c;
      }
      if (!hashes.empty()) hashes += ", ";
      hashes += name + ": " + embedding.hash;
    }
    add("TI hashes", hashes);
  }
  for (const auto& [key, value] : info.extra) params.fields.emplace_back(key, value);
  add("StudioFarm param_hash", info.param_hash);
  add("Render id", info.render_id);
  return params;
}

}  // namespace farm
