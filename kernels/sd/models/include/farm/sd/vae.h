// The SD 1.5 autoencoder (diffusers AutoencoderKL) as a function of named weights:
// Encode maps an image to the Gaussian posterior over latents, Decode maps a latent back
// to an image. Channels, levels and resnets per level are read from the weight shapes;
// GroupNorm groups and eps (not derivable from shapes) come from VaeOptions.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/debug_taps.h"
#include "farm/sd/tensor_map.h"

namespace farm::sd {

// Latents in diffusion space are posterior samples times this factor; Decode expects a
// diffusion latent already divided by it.
inline constexpr double kVaeScalingFactor = 0.18215;

struct VaeOptions {
  int64_t norm_groups = 32;
  double norm_eps = 1e-6;  // every VAE GroupNorm
};

// The diagonal Gaussian posterior of Encode.
struct VaePosterior {
  at::Tensor moments;  // quant_conv output [B, 2*latent, h, w]: mean then logvar (unclamped)
  at::Tensor mean;     // [B, latent, h, w]
  at::Tensor logvar;   // [B, latent, h, w], clamped to [-30, 20]
};

class Vae {
 public:
  // Sizes the encoder and decoder from `weights` (diffusers names; mid-block attention
  // projections as [C, C] linears or [C, C, 1, 1] convs) and checks that the TensorMap
  // is exactly that model: missing, unexpected and mis-shaped tensors in one error.
  static StatusOr<Vae> Create(TensorMap weights, VaeOptions options = {});

  // image [B, in_channels, H, W] in [-1, 1], H and W multiples of downscale_factor().
  // taps (optional): encoder_conv_in, encoder_down_block_{i}, encoder_mid_block.
  StatusOr<VaePosterior> Encode(const at::Tensor& image, DebugTaps* taps = nullptr) const;

  // z [B, latent, h, w] = diffusion latent / kVaeScalingFactor -> image [B, out, 8h, 8w]
  // in nominal [-1, 1], not clamped. taps (optional): post_quant_conv, decoder_conv_in,
  // decoder_mid_block, decoder_up_block_{i} (diffusers order, 0 = lowest resolution).
  StatusOr<at::Tensor> Decode(const at::Tensor& z, DebugTaps* taps = nullptr) const;

  int64_t latent_channels() const;
  int64_t image_channels() const;
  // 2^(number of downsamplers): 8 for SD 1.5.
  int64_t downscale_factor() const;

  TensorMap& weights() { return weights_; }
  const TensorMap& weights() const { return weights_; }
  std::vector<std::string> ModuleNames() const;

  struct Structure;  // what Create read off the shapes

 private:
  Vae() = default;
  TensorMap weights_;
  VaeOptions options_;
  std::shared_ptr<const Structure> structure_;
};

}  // namespace farm::sd
