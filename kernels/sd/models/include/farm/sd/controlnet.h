// An SD 1.5 ControlNet (diffusers ControlNetModel / the original lllyasviel "cldm"
// ControlNet) as a function of named weights (diffusers names; see
// controlnet_checkpoint.h for the file layouts and their renaming).
//
// Its trunk is a copy of the UNet's encoder half (conv_in, time embedding, down blocks,
// mid block), run by the UNet's own block code. In front of it, the hint embedding turns
// the control image into a latent-sized feature map:
//   conv_in (3x3, hint -> c0), SiLU, then blocks k = 0..2n-1 (3x3; even k keep the width,
//   odd k have stride 2 and widen), each followed by SiLU, then conv_out (3x3, -> the
//   trunk's base width, no activation),
// which is added to the trunk's conv_in(sample). Residual i = controlnet_down_blocks.i
// (1x1 conv, a "zero conv") of the trunk's skip i; the mid residual =
// controlnet_mid_block (1x1 conv) of the mid-block output; all times the conditioning scale.
//
// Sizes come from the tensor shapes (tiny and full-size models go through the same code);
// heads, GroupNorm groups and eps from UNetOptions (those of the UNet it controls).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/debug_taps.h"
#include "farm/sd/tensor_map.h"
#include "farm/sd/unet.h"

namespace farm::sd {

class ControlNet {
 public:
  // Sizes the network from `weights` (diffusers names) and checks that they are exactly
  // that network: missing, unexpected and mis-shaped tensors are listed by name.
  static StatusOr<ControlNet> Create(TensorMap weights, UNetOptions options = {});

  // LoadControlNetCheckpoint (either layout, single file or diffusers folder), the
  // tensors converted to `dtype` on `device`, then Create. Errors name the path.
  static StatusOr<ControlNet> Load(const std::string& path, UNetOptions options = {},
                                   at::ScalarType dtype = at::kFloat, at::Device device = at::kCPU);

  // sample [B, in_channels, H, W] (the UNet's input), timesteps [B] or one value,
  // context [B, tokens, context_dim], hint [B or 1, hint_channels, H * hint_downscale,
  // W * hint_downscale] in [0, 1] (not normalised, as diffusers and A1111 feed it).
  // Returns the residuals for UNet::Forward, multiplied by `scale`. `taps` receives
  // hint_embedding, conv_in (after adding the hint), down_block_{i}, mid_block.
  StatusOr<ControlResiduals> Forward(const at::Tensor& sample, const at::Tensor& timesteps,
                                     const at::Tensor& context, const at::Tensor& hint,
                                     double scale = 1.0, DebugTaps* taps = nullptr) const;

  // OK when the residuals fit `unet` (same skips, widths, context width and input
  // channels); otherwise an error saying what differs.
  Status CheckFits(const UNet& unet) const;

  int64_t in_channels() const;
  int64_t context_dim() const;
  std::vector<int64_t> block_out_channels() const;
  int64_t num_residuals() const;  // down residuals (= the UNet's skips, 12 for SD 1.5)
  int64_t hint_channels() const;  // 3
  // Widths of the hint embedding before conv_out (diffusers
  // conditioning_embedding_out_channels: [16, 32, 96, 256] for SD 1.5 ControlNets).
  std::vector<int64_t> conditioning_channels() const;
  int64_t hint_downscale() const;  // hint pixels per latent pixel (8)
  const UNetOptions& options() const { return options_; }

  TensorMap& weights() { return weights_; }
  const TensorMap& weights() const { return weights_; }

  struct Structure;  // what Create read off the shapes (controlnet.cc)

 private:
  ControlNet() = default;
  TensorMap weights_;
  UNetOptions options_;
  std::shared_ptr<const Structure> structure_;
};

}  // namespace farm::sd
