// Forward functions of the UNet's parts, shared by the UNet and (for the encoder half)
// a ControlNet, which uses the same diffusers names.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "farm/sd/debug_taps.h"
#include "layers.h"
#include "unet_structure.h"

namespace farm::sd {

// Sinusoidal timestep features [B, channels], cos half first (flip_sin_to_cos, shift 0),
// computed in float32 like diffusers' get_timestep_embedding.
at::Tensor TimestepFeatures(const at::Tensor& timesteps, int64_t channels);
// TimestepFeatures for a batch: `timesteps` is one value (shared) or one per item; the
// result is [batch, channels] in `options`.
at::Tensor BatchTimestepFeatures(const at::Tensor& timesteps, int64_t batch, int64_t channels,
                                 const at::TensorOptions& options);

// time_embedding: linear_1, SiLU, linear_2.
at::Tensor TimeEmbedding(const Weights& w, const at::Tensor& features);

// Transformer2DModel: GroupNorm, proj_in, transformer blocks (self-attention,
// cross-attention on `context`, GEGLU feed-forward), proj_out, + input.
at::Tensor SpatialTransformer(const Weights& w, const std::string& prefix, const at::Tensor& x,
                              const at::Tensor& context, const TransformerShape& shape,
                              const UNetOptions& options);

// A ResnetBlock (with UNetOptions' norm) and a SpatialTransformer at `prefix`, each
// checkpointed as one block when `w.checkpoint_blocks()` (checkpoint.h).
at::Tensor UNetResnet(const Weights& w, const std::string& prefix, const at::Tensor& x,
                      const at::Tensor& temb_silu, const UNetOptions& options);
at::Tensor UNetTransformer(const Weights& w, const std::string& prefix, const at::Tensor& x,
                           const at::Tensor& context, const TransformerShape& shape,
                           const UNetOptions& options);

// conv_in, then every down level; returns the last hidden state and appends every skip
// (conv_in output, each resnet/attention output, each downsampler output) to `skips`.
at::Tensor UNetDownPath(const Weights& w, const UNet::Structure& s, const UNetOptions& options,
                        const at::Tensor& sample, const at::Tensor& temb_silu,
                        const at::Tensor& context, std::vector<at::Tensor>* skips, DebugTaps* taps);

// The down levels alone, from `h` (the conv_in output, pushed as the first skip): a
// ControlNet adds its hint embedding to conv_in's output before them.
at::Tensor UNetDownBlocks(const Weights& w, const UNet::Structure& s, const UNetOptions& options,
                          at::Tensor h, const at::Tensor& temb_silu, const at::Tensor& context,
                          std::vector<at::Tensor>* skips, DebugTaps* taps);

at::Tensor UNetMidBlock(const Weights& w, const UNet::Structure& s, const UNetOptions& options,
                        const at::Tensor& x, const at::Tensor& temb_silu, const at::Tensor& context);

}  // namespace farm::sd
