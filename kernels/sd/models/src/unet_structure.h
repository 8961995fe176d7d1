// The shape of a UNet as read from its weights, and the list of weights that shape
// implies (used to check a TensorMap before running it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/tensor_map.h"
#include "farm/sd/unet.h"
#include "weight_spec.h"

namespace farm::sd {

struct TransformerShape {
  int64_t channels = 0;     // input/output channels (GroupNorm, proj_out)
  int64_t inner = 0;        // token width after proj_in
  int64_t depth = 0;        // transformer_blocks
  int64_t ff_inner = 0;     // GEGLU hidden width (4 * inner in SD)
  bool linear_projection = false;  // proj_in/proj_out as Linear instead of 1x1 conv
};

struct ResnetShape {
  int64_t in = 0, out = 0;
};

// One down/up block (or the mid block: resnets[0], then attention j and resnets[j+1]).
struct LevelShape {
  std::string prefix;  // "down_blocks.1", "mid_block", "up_blocks.0"
  std::vector<ResnetShape> resnets;
  std::vector<TransformerShape> attentions;  // empty: no attention on this level
  bool resample = false;                     // downsamplers.0 / upsamplers.0
  int64_t out = 0;
};

struct UNet::Structure {
  int64_t in_channels = 0, base_channels = 0, out_channels = 0;
  int64_t time_proj_channels = 0, time_embed_dim = 0, context_dim = 0;
  std::vector<LevelShape> down;
  LevelShape mid;
  std::vector<LevelShape> up;
  std::vector<int64_t> skip_channels;  // in push order
};

// Reads the structure off the shapes and fills `spec` with every weight it implies.
// `with_up_path` = false reads only conv_in, time embedding, down and mid blocks (the
// part a ControlNet shares).
StatusOr<UNet::Structure> ReadUNetStructure(const TensorMap& weights, const UNetOptions& options,
                                            const std::string& component, bool with_up_path,
                                            WeightSpec* spec);

}  // namespace farm::sd
