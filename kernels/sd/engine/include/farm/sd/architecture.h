// The sizes of an SD 1.5-topology model (UNet, VAE, CLIP text encoder) and the names and
// shapes of every weight it has, in diffusers naming.
//
// The topology is SD 1.5's (4 levels, attention on the first three, layers_per_block
// resnets per level); only widths and counts vary. Real checkpoints are sized from their
// tensors; this description is what the tiny-model generator and the full-size benchmark
// checkpoint are built from. Head counts and GroupNorm group counts cannot be read from
// tensor shapes, so they are written into a checkpoint's metadata (see kMetadata*).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::sd {

struct UNetArchitecture {
  std::vector<int64_t> block_channels = {320, 640, 1280, 1280};
  std::vector<bool> level_has_attention = {true, true, true, false};
  int64_t layers_per_block = 2;
  int64_t in_channels = 4;
  int64_t out_channels = 4;
  int64_t context_dim = 768;
  int64_t heads = 8;
  int64_t norm_groups = 32;
};

struct VaeArchitecture {
  std::vector<int64_t> block_channels = {128, 256, 512, 512};
  int64_t layers_per_block = 2;
  int64_t latent_channels = 4;
  int64_t image_channels = 3;
  int64_t norm_groups = 32;
};

struct ClipTextArchitecture {
  int64_t hidden = 768;
  int64_t layers = 12;
  int64_t heads = 12;
  int64_t intermediate = 3072;
  int64_t vocab = 49408;
  int64_t positions = 77;
};

// A ControlNet for a UNet of `UNetArchitecture`: a copy of its encoder half plus the hint
// embedding (widths `conditioning_channels`, one stride-2 step between consecutive
// entries) and the zero convs.
struct ControlNetArchitecture {
  std::vector<int64_t> conditioning_channels = {16, 32, 96, 256};
  int64_t hint_channels = 3;
};

struct SdArchitecture {
  UNetArchitecture unet;
  VaeArchitecture vae;
  ClipTextArchitecture text;
};

// Stable Diffusion 1.5 (860M-parameter UNet, ViT-L/14 text tower).
SdArchitecture Sd15Architecture();
// A few-MB model of the same topology for tests and the quickstart.
SdArchitecture TinyArchitecture();

// Every weight of each component with its shape, diffusers names, sorted by name.
using WeightShapes = std::map<std::string, std::vector<int64_t>>;
WeightShapes UNetWeightShapes(const UNetArchitecture& arch);
WeightShapes VaeWeightShapes(const VaeArchitecture& arch);
WeightShapes ClipTextWeightShapes(const ClipTextArchitecture& arch);
// A ControlNet's weights (diffusers ControlNetModel names) for a UNet of `unet`.
WeightShapes ControlNetWeightShapes(const UNetArchitecture& unet, const ControlNetArchitecture& arch);
// The tiny ControlNet written next to the tiny model (hint embedding 8x down, as SD 1.5's).
ControlNetArchitecture TinyControlNetArchitecture();

// Checkpoint metadata keys for what tensor shapes cannot tell.
inline constexpr const char* kMetadataUNetHeads = "studiofarm.unet.heads";
inline constexpr const char* kMetadataUNetNormGroups = "studiofarm.unet.norm_groups";
inline constexpr const char* kMetadataVaeNormGroups = "studiofarm.vae.norm_groups";
inline constexpr const char* kMetadataClipHeads = "studiofarm.clip.heads";

std::map<std::string, std::string> ArchitectureMetadata(const SdArchitecture& arch);
// Reads the counts back; keys that are absent keep SD 1.5's values, malformed ones are
// an error naming the key.
Status ApplyArchitectureMetadata(const std::map<std::string, std::string>& metadata,
                                 SdArchitecture& arch);

}  // namespace farm::sd
