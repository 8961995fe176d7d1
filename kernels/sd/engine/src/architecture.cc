#include "farm/sd/architecture.h"

#include <charconv>

namespace farm::sd {
namespace {

using Shape = std::vector<int64_t>;

// Adds "<prefix>.weight" and, when bias_size > 0, "<prefix>.bias".
void AddParam(WeightShapes& out, const std::string& prefix, Shape weight, int64_t bias_size) {
  out[prefix + ".weight"] = std::move(weight);
  if (bias_size > 0) out[prefix + ".bias"] = {bias_size};
}

void AddNorm(WeightShapes& out, const std::string& prefix, int64_t channels) {
  AddParam(out, prefix, {channels}, channels);
}

void AddConv(WeightShapes& out, const std::string& prefix, int64_t in, int64_t out_ch, int64_t k) {
  AddParam(out, prefix, {out_ch, in, k, k}, out_ch);
}

// A resnet block; `time_dim` 0 means no timestep projection (the VAE's blocks).
void AddResnet(WeightShapes& out, const std::string& prefix, int64_t in, int64_t out_ch,
               int64_t time_dim) {
  AddNorm(out, prefix + ".norm1", in);
  AddConv(out, prefix + ".conv1", in, out_ch, 3);
  if (time_dim > 0) AddParam(out, prefix + ".time_emb_proj", {out_ch, time_dim}, out_ch);
  AddNorm(out, prefix + ".norm2", out_ch);
  AddConv(out, prefix + ".conv2", out_ch, out_ch, 3);
  if (in != out_ch) AddConv(out, prefix + ".conv_shortcut", in, out_ch, 1);
}

// Transformer2DModel with one BasicTransformerBlock, conv proj_in/proj_out (SD 1.5).
void AddSpatialTransformer(WeightShapes& out, const std::string& prefix, int64_t c, int64_t context) {
  AddNorm(out, prefix + ".norm", c);
  AddConv(out, prefix + ".proj_in", c, c, 1);
  const std::string block = prefix + ".transformer_blocks.0";
  AddNorm(out, block + ".norm1", c);
  AddParam(out, block + ".attn1.to_q", {c, c}, 0);
  AddParam(out, block + ".attn1.to_k", {c, c}, 0);
  AddParam(out, block + ".attn1.to_v", {c, c}, 0);
  AddParam(out, block + ".attn1.to_out.0", {c, c}, c);
  AddNorm(out, block + ".norm2", c);
  AddParam(out, block + ".attn2.to_q", {c, c}, 0);
  AddParam(out, block + ".attn2.to_k", {c, context}, 0);
  AddParam(out, block + ".attn2.to_v", {c, context}, 0);
  AddParam(out, block + ".attn2.to_out.0", {c, c}, c);
  AddNorm(out, block + ".norm3", c);
  AddParam(out, block + ".ff.net.0.proj", {8 * c, c}, 8 * c);  // GEGLU: value and gate
  AddParam(out, block + ".ff.net.2", {c, 4 * c}, c);
  AddConv(out, prefix + ".proj_out", c, c, 1);
}

// The VAE's single-head mid-block attention (Linear layers in diffusers naming).
void AddVaeAttention(WeightShapes& out, const std::string& prefix, int64_t c) {
  AddNorm(out, prefix + ".group_norm", c);
  for (const char* name : {".to_q", ".to_k", ".to_v", ".to_out.0"}) {
    AddParam(out, prefix + name, {c, c}, c);
  }
}

}  // namespace

SdArchitecture Sd15Architecture() { return SdArchitecture{}; }

SdArchitecture TinyArchitecture() {
  SdArchitecture arch;
  arch.unet.block_channels = {32, 64, 64, 64};
  arch.unet.context_dim = 32;
  arch.unet.heads = 4;
  arch.unet.norm_groups = 8;
  arch.vae.block_channels = {16, 32, 32, 32};
  arch.vae.norm_groups = 8;
  arch.text.hidden = 32;
  arch.text.layers = 3;
  arch.text.heads = 4;
  arch.text.intermediate = 64;
  arch.text.vocab = 1000;
  return arch;
}

WeightShapes UNetWeightShapes(const UNetArchitecture& arch) {
  WeightShapes out;
  const auto& ch = arch.block_channels;
  const size_t levels = ch.size();
  const int64_t time_dim = 4 * ch[0];
  AddParam(out, "time_embedding.linear_1", {time_dim, ch[0]}, time_dim);
  AddParam(out, "time_embedding.linear_2", {time_dim, time_dim}, time_dim);
  AddConv(out, "conv_in", arch.in_channels, ch[0], 3);

  for (size_t i = 0; i < levels; ++i) {
    const std::string block = "down_blocks." + std::to_string(i);
    int64_t in = i == 0 ? ch[0] : ch[i - 1];
    for (int64_t j = 0; j < arch.layers_per_block; ++j) {
      AddResnet(out, block + ".resnets." + std::to_string(j), j == 0 ? in : ch[i], ch[i], time_dim);
      if (arch.level_has_attention[i]) {
        AddSpatialTransformer(out, block + ".attentions." + std::to_string(j), ch[i], arch.context_dim);
      }
    }
    if (i + 1 < levels) AddConv(out, block + ".downsamplers.0.conv", ch[i], ch[i], 3);
  }

  const int64_t deepest = ch.back();
  AddResnet(out, "mid_block.resnets.0", deepest, deepest, time_dim);
  AddSpatialTransformer(out, "mid_block.attentions.0", deepest, arch.context_dim);
  AddResnet(out, "mid_block.resnets.1", deepest, deepest, time_dim);

  // Up path mirrors the down path; each resnet takes one skip from the matching level.
  int64_t previous = deepest;
  for (size_t i = 0; i < levels; ++i) {
    const size_t level = levels - 1 - i;
    const std::string block = "up_blocks." + std::to_string(i);
    const int64_t out_ch = ch[level];
    const int64_t skip_of_level_below = level == 0 ? ch[0] : ch[level - 1];
    for (int64_t j = 0; j <= arch.layers_per_block; ++j) {
      const int64_t skip = j == arch.layers_per_block ? skip_of_level_below : out_ch;
      const int64_t in = (j == 0 ? previous : out_ch) + skip;
      AddResnet(out, block + ".resnets." + std::to_string(j), in, out_ch, time_dim);
      if (arch.level_has_attention[level]) {
        AddSpatialTransformer(out, block + ".attentions." + std::to_string(j), out_ch, arch.context_dim);
      }
    }
    if (level > 0) AddConv(out, block + ".upsamplers.0.conv", out_ch, out_ch, 3);
    previous = out_ch;
  }

  AddNorm(out, "conv_norm_out", ch[0]);
  AddConv(out, "conv_out", ch[0], arch.out_channels, 3);
  return out;
}

WeightShapes ControlNetWeightShapes(const UNetArchitecture& unet, const ControlNetArchitecture& arch) {
  // The trunk is the UNet's encoder half, under the same names.
  WeightShapes out;
  for (const auto& [name, shape] : UNetWeightShapes(unet)) {
    for (const char* trunk : {"time_embedding.", "conv_in.", "down_blocks.", "mid_block."}) {
      if (name.starts_with(trunk)) out[name] = shape;
    }
  }
  const auto& c = arch.conditioning_channels;
  const std::string embedding = "controlnet_cond_embedding";
  AddConv(out, embedding + ".conv_in", arch.hint_channels, c.front(), 3);
  for (size_t i = 0; i + 1 < c.size(); ++i) {
    AddConv(out, embedding + ".blocks." + std::to_string(2 * i), c[i], c[i], 3);
    AddConv(out, embedding + ".blocks." + std::to_string(2 * i + 1), c[i], c[i + 1], 3);
  }
  AddConv(out, embedding + ".conv_out", c.back(), unet.block_channels.front(), 3);

  // One zero conv per UNet skip: conv_in, every resnet, every downsampler.
  std::vector<int64_t> skips = {unet.block_channels.front()};
  for (size_t i = 0; i < unet.block_channels.size(); ++i) {
    for (int64_t j = 0; j < unet.layers_per_block; ++j) skips.push_back(unet.block_channels[i]);
    if (i + 1 < unet.block_channels.size()) skips.push_back(unet.block_channels[i]);
  }
  for (size_t i = 0; i < skips.size(); ++i) {
    AddConv(out, "controlnet_down_blocks." + std::to_string(i), skips[i], skips[i], 1);
  }
  AddConv(out, "controlnet_mid_block", unet.block_channels.back(), unet.block_channels.back(), 1);
  return out;
}

ControlNetArchitecture TinyControlNetArchitecture() {
  ControlNetArchitecture arch;
  arch.conditioning_channels = {8, 16, 16, 32};
  return arch;
}

WeightShapes VaeWeightShapes(const VaeArchitecture& arch) {
  WeightShapes out;
  const auto& ch = arch.block_channels;
  const size_t levels = ch.size();
  const int64_t deepest = ch.back();

  AddConv(out, "encoder.conv_in", arch.image_channels, ch[0], 3);
  for (size_t i = 0; i < levels; ++i) {
    const std::string block = "encoder.down_blocks." + std::to_string(i);
    const int64_t in = i == 0 ? ch[0] : ch[i - 1];
    for (int64_t j = 0; j < arch.layers_per_block; ++j) {
      AddResnet(out, block + ".resnets." + std::to_string(j), j == 0 ? in : ch[i], ch[i], 0);
    }
    if (i + 1 < levels) AddConv(out, block + ".downsamplers.0.conv", ch[i], ch[i], 3);
  }
  AddResnet(out, "encoder.mid_block.resnets.0", deepest, deepest, 0);
  AddVaeAttention(out, "encoder.mid_block.attentions.0", deepest);
  AddResnet(out, "encoder.mid_block.resnets.1", deepest, deepest, 0);
  AddNorm(out, "encoder.conv_norm_out", deepest);
  AddConv(out, "encoder.conv_out", deepest, 2 * arch.latent_channels, 3);

  AddConv(out, "quant_conv", 2 * arch.latent_channels, 2 * arch.latent_channels, 1);
  AddConv(out, "post_quant_conv", arch.latent_channels, arch.latent_channels, 1);

  AddConv(out, "decoder.conv_in", arch.latent_channels, deepest, 3);
  AddResnet(out, "decoder.mid_block.resnets.0", deepest, deepest, 0);
  AddVaeAttention(out, "decoder.mid_block.attentions.0", deepest);
  AddResnet(out, "decoder.mid_block.resnets.1", deepest, deepest, 0);
  int64_t previous = deepest;
  for (size_t i = 0; i < levels; ++i) {
    const size_t level = levels - 1 - i;
    const std::string block = "decoder.up_blocks." + std::to_string(i);
    const int64_t out_ch = ch[level];
    for (int64_t j = 0; j <= arch.layers_per_block; ++j) {
      AddResnet(out, block + ".resnets." + std::to_string(j), j == 0 ? previous : out_ch, out_ch, 0);
    }
    if (level > 0) AddConv(out, block + ".upsamplers.0.conv", out_ch, out_ch, 3);
    previous = out_ch;
  }
  AddNorm(out, "decoder.conv_norm_out", ch[0]);
  AddConv(out, "decoder.conv_out", ch[0], arch.image_channels, 3);
  return out;
}

WeightShapes ClipTextWeightShapes(const ClipTextArchitecture& arch) {
  WeightShapes out;
  const int64_t h = arch.hidden;
  out["text_model.embeddings.token_embedding.weight"] = {arch.vocab, h};
  out["text_model.embeddings.position_embedding.weight"] = {arch.positions, h};
  for (int64_t k = 0; k < arch.layers; ++k) {
    const std::string layer = "text_model.encoder.layers." + std::to_string(k);
    AddNorm(out, layer + ".layer_norm1", h);
    for (const char* proj : {".self_attn.q_proj", ".self_attn.k_proj", ".self_attn.v_proj",
                             ".self_attn.out_proj"}) {
      AddParam(out, layer + proj, {h, h}, h);
    }
    AddNorm(out, layer + ".layer_norm2", h);
    AddParam(out, layer + ".mlp.fc1", {arch.intermediate, h}, arch.intermediate);
    AddParam(out, layer + ".mlp.fc2", {h, arch.intermediate}, h);
  }
  AddNorm(out, "text_model.final_layer_norm", h);
  return out;
}

std::map<std::string, std::string> ArchitectureMetadata(const SdArchitecture& arch) {
  return {
      {kMetadataUNetHeads, std::to_string(arch.unet.heads)},
      {kMetadataUNetNormGroups, std::to_string(arch.unet.norm_groups)},
      {kMetadataVaeNormGroups, std::to_string(arch.vae.norm_groups)},
      {kMetadataClipHeads, std::to_string(arch.text.heads)},
  };
}

Status ApplyArchitectureMetadata(const std::map<std::string, std::string>& metadata,
                                 SdArchitecture& arch) {
  const std::pair<const char*, int64_t*> fields[] = {
      {kMetadataUNetHeads, &arch.unet.heads},
      {kMetadataUNetNormGroups, &arch.unet.norm_groups},
      {kMetadataVaeNormGroups, &arch.vae.norm_groups},
      {kMetadataClipHeads, &arch.text.heads},
  };
  for (const auto& [key, field] : fields) {
    auto it = metadata.find(key);
    if (it == metadata.end()) continue;
    const std::string& text = it->second;
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value <= 0) {
      return InvalidArgument(std::string("checkpoint metadata '") + key + "' is \"" + text +
                             "\"; expected a positive integer");
    }
    *field = value;
  }
  return Status::Ok();
}

}  // namespace farm::sd
