// The samplers' view of the UNet: a denoiser D(x, sigma) that estimates the clean latent.
//
// The UNet predicts the noise eps from the scaled input c_in * x = x / sqrt(sigma^2 + 1)
// at a timestep; D(x, sigma) = x - sigma * eps (k-diffusion's CompVisDenoiser).
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>

#include "farm/schemas/status.h"

namespace farm::sd {

// The model call: the UNet input (rows in the order the denoiser documents), the noise
// level and the timestep of this call; returns eps with the input's shape.
using EpsModel =
    std::function<StatusOr<at::Tensor>(const at::Tensor& x_in, double sigma, double timestep)>;

class Denoiser {
 public:
  virtual ~Denoiser() = default;
  // x: latent batch [N, C, H, W] at noise level sigma. Returns the estimate of x0.
  virtual StatusOr<at::Tensor> Denoise(const at::Tensor& x, double sigma, double timestep) = 0;
};

// One model call on the N latent rows, no guidance.
class EpsDenoiser : public Denoiser {
 public:
  explicit EpsDenoiser(EpsModel model);
  StatusOr<at::Tensor> Denoise(const at::Tensor& x, double sigma, double timestep) override;

 private:
  StatusOr<at::Tensor> DenoiseOrThrow(const at::Tensor& x, double sigma, double timestep);
  EpsModel model_;
};

// Classifier-free guidance: one model call on 2N rows [uncond rows 0..N-1; cond rows
// N..2N-1] (the model closure pairs them with the negative and positive prompt
// embeddings in that order); eps = uncond + scale * (cond - uncond).
class CfgDenoiser : public Denoiser {
 public:
  CfgDenoiser(EpsModel model, double scale);
  StatusOr<at::Tensor> Denoise(const at::Tensor& x, double sigma, double timestep) override;

 private:
  StatusOr<at::Tensor> DenoiseOrThrow(const at::Tensor& x, double sigma, double timestep);
  EpsModel model_;
  double scale_;
};

// x / sqrt(sigma^2 + 1): the UNet input for latent x at sigma.
at::Tensor ScaleModelInput(const at::Tensor& x, double sigma);

}  // namespace farm::sd
