// Between farm::image::Image and the engine: tensors, base requests from the render
// params, and img2img / inpaint of an image of any size.
#pragma once

#include <optional>
#include <string>

#include <ATen/ATen.h>

#include "farm/faceid/image.h"
#include "farm/image/image.h"
#include "farm/pipeline/stages.h"
#include "farm/sd/engine.h"

namespace farm::pipeline {

// [3, H, W] float RGB in [0, 1] (RGB or RGBA input; alpha dropped).
at::Tensor ImageToTensor01(const farm::image::Image& image);
// [H, W] float in [0, 1] from a 1-channel mask.
at::Tensor MaskToTensor01(const farm::image::Image& mask);
// [H, W, 3] uint8 -> RGB image.
farm::image::Image TensorToImage(const at::Tensor& hwc_uint8);
farm::faceid::RgbImage ToRgbImage(const farm::image::Image& image);
// RGB copy (drops alpha, expands grey).
farm::image::Image ToRgb(const farm::image::Image& image);

// The render's prompt, negative, sampler (front-end name from sampler + scheduler),
// steps, CFG, clip skip, seed, size and LoRAs. InvalidArgument when params.loras and
// models.loras disagree in count.
StatusOr<farm::sd::RenderRequest> BaseRequest(const StageContext& context);

// Renders one image; polls `cancelled` and reports progress.
StatusOr<farm::image::Image> RenderOne(const StageContext& context, const farm::sd::RenderRequest& request);

// img2img (or inpaint with `mask`, 1 channel, the input's size) of `input` at its own
// size rounded up to a multiple of 8 (resized with Lanczos there and back when needed).
// `hint` (an image, any size) with `controlnet_path`/`controlnet_weight` adds a ControlNet unit.
struct Img2ImgCall {
  double denoise = 0.35;
  std::optional<farm::image::Image> mask;
  std::optional<farm::image::Image> hint;
  std::string controlnet_path;
  double controlnet_weight = 1.0;
};
StatusOr<farm::image::Image> Img2Img(const StageContext& context, farm::sd::RenderRequest request,
                                     const farm::image::Image& input, const Img2ImgCall& call);

Status CheckCancelled(const StageContext& context, const std::string& where);

}  // namespace farm::pipeline
