#include "farm/sd/denoiser.h"

#include <ATen/ATen.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace farm::sd {
namespace {

std::string ShapeText(at::IntArrayRef shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

Status CheckEps(const at::Tensor& eps, const at::Tensor& x_in) {
  if (!eps.defined() || eps.sizes() != x_in.sizes()) {
    return InvalidArgument("model returned eps of shape " +
                           (eps.defined() ? ShapeText(eps.sizes()) : std::string("(none)")) +
                           " for an input of shape " + ShapeText(x_in.sizes()));
  }
  return Status::Ok();
}

}  // namespace

at::Tensor ScaleModelInput(const at::Tensor& x, double sigma) {
  return x / std::sqrt(sigma * sigma + 1.0);
}

EpsDenoiser::EpsDenoiser(EpsModel model) : model_(std::move(model)) {}

StatusOr<at::Tensor> EpsDenoiser::Denoise(const at::Tensor& x, double sigma, double timestep) {
  try {
    return DenoiseOrThrow(x, sigma, timestep);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("denoising: ") + e.what());
  }
}

StatusOr<at::Tensor> EpsDenoiser::DenoiseOrThrow(const at::Tensor& x, double sigma, double timestep) {
  at::Tensor x_in = ScaleModelInput(x, sigma);
  FARM_ASSIGN_OR_RETURN(at::Tensor eps, model_(x_in, sigma, timestep));
  FARM_RETURN_IF_ERROR(CheckEps(eps, x_in));
  return x - eps.to(x.dtype()) * sigma;
}

CfgDenoiser::CfgDenoiser(EpsModel model, double scale) : model_(std::move(model)), scale_(scale) {}

StatusOr<at::Tensor> CfgDenoiser::Denoise(const at::Tensor& x, double sigma, double timestep) {
  try {
    return DenoiseOrThrow(x, sigma, timestep);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("denoising with guidance: ") + e.what());
  }
}

StatusOr<at::Tensor> CfgDenoiser::DenoiseOrThrow(const at::Tensor& x, double sigma, double timestep) {
  at::Tensor x_in = ScaleModelInput(at::cat({x, x}, 0), sigma);
  FARM_ASSIGN_OR_RETURN(at::Tensor eps_both, model_(x_in, sigma, timestep));
  FARM_RETURN_IF_ERROR(CheckEps(eps_both, x_in));
  std::vector<at::Tensor> halves = eps_both.to(x.dtype()).chunk(2, 0);
  at::Tensor eps = halves[0] + (halves[1] - halves[0]) * scale_;
  return x - eps * sigma;
}

}  // namespace farm::sd
