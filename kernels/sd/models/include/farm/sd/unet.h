// The SD 1.5 denoising UNet (diffusers UNet2DConditionModel with CrossAttnDownBlock2D /
// DownBlock2D / UNetMidBlock2DCrossAttn / UpBlock2D / CrossAttnUpBlock2D blocks) as a
// function of named weights.
//
// Everything that shapes determine is read from the weights: channels per level, number
// of levels and resnets, which levels have attention (and transformer depth), where a
// resnet has a 1x1 conv_shortcut, down/up samplers, conv or linear proj_in, time
// embedding width, context width. What shapes cannot tell (heads, GroupNorm groups, eps)
// comes from UNetOptions, whose defaults are SD 1.5's.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/debug_taps.h"
#include "farm/sd/layer_adapters.h"
#include "farm/sd/tensor_map.h"

namespace farm::sd {

struct UNetOptions {
  // Attention heads per transformer (diffusers calls this "attention_head_dim" for
  // SD 1.x); head width = channels / heads.
  int64_t num_heads = 8;
  int64_t norm_groups = 32;
  double resnet_norm_eps = 1e-5;     // resnets and the output GroupNorm
  double transformer_norm_eps = 1e-6;  // GroupNorm in front of proj_in
  double layer_norm_eps = 1e-5;      // norm1..3 in the transformer blocks
};

// ControlNet outputs (already multiplied by the conditioning scale): down[i] is added to
// skip i (UNet::num_skips() of them, in push order: conv_in, then each resnet/attention
// and downsampler output), mid to the mid-block output.
struct ControlResiduals {
  std::vector<at::Tensor> down;
  at::Tensor mid;
};

class UNet {
 public:
  // Sizes the network from the shapes in `weights` and checks that the TensorMap is
  // exactly that network: missing, unexpected and mis-shaped tensors are listed by name
  // in one error.
  static StatusOr<UNet> Create(TensorMap weights, UNetOptions options = {});

  // sample [B, in_channels, H, W]; timesteps [B] or one value, int64 or floating
  // (fractional values allowed); context [B, tokens, context_dim]. Returns the noise
  // prediction [B, out_channels, H, W]. When `taps` is given it receives time_proj,
  // time_embedding, conv_in, down_block_{i}, mid_block, up_block_{i}.
  StatusOr<at::Tensor> Forward(const at::Tensor& sample, const at::Tensor& timesteps,
                               const at::Tensor& context,
                               const ControlResiduals* control = nullptr,
                               DebugTaps* taps = nullptr) const;

  int64_t in_channels() const;
  int64_t out_channels() const;
  int64_t context_dim() const;
  // Output channels of each down level (diffusers block_out_channels).
  std::vector<int64_t> block_out_channels() const;
  // Number of skip connections = number of down residuals a ControlNet supplies (12 for SD 1.5).
  int64_t num_skips() const;
  const UNetOptions& options() const { return options_; }

  // The weights, by diffusers name; mutate in place to merge LoRAs.
  TensorMap& weights() { return weights_; }
  const TensorMap& weights() const { return weights_; }
  // Module paths of every weight (key minus ".weight").
  std::vector<std::string> ModuleNames() const;

  // Attaches LoRA training adapters (null detaches them); see layer_adapters.h. Copies of
  // this UNet made afterwards share them.
  void SetAdapters(std::shared_ptr<const LayerAdapters> adapters);
  const LayerAdapters* adapters() const { return adapters_.get(); }

  // Gradient checkpointing for training (off by default): while a forward records
  // autograd, each resnet and each transformer (Transformer2DModel) saves only its inputs
  // and recomputes its activations during backward, so a full-size training step holds a
  // fraction of the memory for about one more forward of compute. Loss and gradients are
  // those without it (on the CPU bit for bit: each block sums its inputs' gradients inside
  // either way, checkpoint.h). Inference is unaffected. Copies made afterwards keep it.
  void SetGradientCheckpointing(bool on);
  bool gradient_checkpointing() const { return gradient_checkpointing_; }

  struct Structure;  // what Create read off the shapes (unet_structure.h)

 private:
  UNet() = default;
  TensorMap weights_;
  UNetOptions options_;
  std::shared_ptr<const Structure> structure_;
  std::shared_ptr<const LayerAdapters> adapters_;
  bool gradient_checkpointing_ = false;
};

}  // namespace farm::sd
