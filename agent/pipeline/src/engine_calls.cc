#include "engine_calls.h"

#include <algorithm>

#include "farm/image/resize.h"
#include "farm/schemas/samplers.h"

namespace farm::pipeline {

using farm::image::Image;

Image ToRgb(const Image& image) {
  if (image.channels == 3) return image;
  Image out;
  out.width = image.width;
  out.height = image.height;
  out.channels = 3;
  out.pixels.resize(static_cast<size_t>(image.width) * image.height * 3);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const uint8_t* p = image.at(x, y);
      uint8_t* q = out.at(x, y);
      for (int c = 0; c < 3; ++c) q[c] = image.channels == 1 ? p[0] : p[c];
    }
  }
  return out;
}

at::Tensor ImageToTensor01(const Image& image) {
  Image rgb = ToRgb(image);
  at::Tensor t = at::from_blob(rgb.pixels.data(), {rgb.height, rgb.width, 3}, at::kByte).clone();
  return t.to(at::kFloat).div(255.0).permute({2, 0, 1}).contiguous();
}

at::Tensor MaskToTensor01(const Image& mask) {
  Image m = mask;  // from_blob needs a mutable pointer
  at::Tensor t = at::from_blob(m.pixels.data(), {m.height, m.width, m.channels}, at::kByte).clone();
  return t.select(2, 0).to(at::kFloat).div(255.0).contiguous();
}

Image TensorToImage(const at::Tensor& hwc_uint8) {
  at::Tensor t = hwc_uint8.to(at::kCPU).to(at::kByte).contiguous();
  Image out;
  out.height = static_cast<int>(t.size(0));
  out.width = static_cast<int>(t.size(1));
  out.channels = 3;
  const uint8_t* data = t.data_ptr<uint8_t>();
  out.pixels.assign(data, data + t.numel());
  return out;
}

farm::faceid::RgbImage ToRgbImage(const Image& image) {
  Image rgb = ToRgb(image);
  return {rgb.width, rgb.height, std::move(rgb.pixels)};
}

Status CheckCancelled(const StageContext& context, const std::string& where) {
  if (context.cancelled && context.cancelled()) {
    return farm::sd::RenderCancelled(where);
  }
  return Status::Ok();
}

StatusOr<farm::sd::RenderRequest> BaseRequest(const StageContext& context) {
  if (context.engine == nullptr || context.params == nullptr || context.models == nullptr) {
    return InvalidArgument("pipeline stage: engine, params and models are required");
  }
  const RenderParams& p = *context.params;
  const ModelPaths& m = *context.models;
  farm::sd::RenderRequest r;
  r.prompt = p.prompt;
  r.negative_prompt = p.negative_prompt;
  r.sampler = p.scheduler.empty() ? p.sampler : FrontEndSamplerName({p.sampler, p.scheduler});
  r.steps = p.steps;
  r.cfg_scale = p.cfg;
  r.clip_skip = p.clip_skip;
  r.seed = p.seed;
  r.width = p.width;
  r.height = p.height;
  if (!p.loras.empty() && p.loras.size() != m.loras.size()) {
    return InvalidArgument("render has " + std::to_string(p.loras.size()) + " LoRAs but " +
                           std::to_string(m.loras.size()) + " LoRA files were resolved");
  }
  for (size_t i = 0; i < m.loras.size(); ++i) {
    // The recorded weight is the params' (it is part of param_hash).
    const double weight = p.loras.empty() ? m.loras[i].second : p.loras[i].weight;
    auto cached = m.lora_files.find(m.loras[i].first);
    r.loras.push_back(
        {m.loras[i].first, weight, cached == m.lora_files.end() ? nullptr : cached->second});
  }
  if (context.embeddings != nullptr) r.embeddings = *context.embeddings;
  return r;
}

StatusOr<Image> RenderOne(const StageContext& context, const farm::sd::RenderRequest& request) {
  FARM_RETURN_IF_ERROR(CheckCancelled(context, "engine call"));
  farm::sd::ProgressCallback progress;
  if (context.progress) {
    progress = [&](int64_t done, int64_t total) {
      context.progress(static_cast<int>(done), static_cast<int>(total));
    };
  }
  // The engine polls it between sampler steps, so a cancel does not wait for the call.
  farm::sd::RenderRequest polled = request;
  polled.cancelled = context.cancelled;
  FARM_ASSIGN_OR_RETURN(farm::sd::RenderOutput out, context.engine->Render(polled, progress));
  if (context.model_seconds != nullptr) {
    context.model_seconds->text += out.seconds.text;
    context.model_seconds->unet += out.seconds.unet;
    context.model_seconds->controlnet += out.seconds.controlnet;
    context.model_seconds->vae += out.seconds.vae;
  }
  if (context.embeddings_used != nullptr) {
    for (const std::string& name : out.embeddings_used) {
      std::vector<std::string>& used = *context.embeddings_used;
      if (std::find(used.begin(), used.end(), name) == used.end()) used.push_back(name);
    }
  }
  return TensorToImage(out.images[0]);
}

StatusOr<Image> Img2Img(const StageContext& context, farm::sd::RenderRequest request,
                        const Image& input, const Img2ImgCall& call) {
  FARM_RETURN_IF_ERROR(farm::image::ValidateImage(input, "img2img input"));
  const int w8 = (input.width + 7) / 8 * 8;
  const int h8 = (input.height + 7) / 8 * 8;
  Image work = ToRgb(input);
  if (w8 != input.width || h8 != input.height) {
    FARM_ASSIGN_OR_RETURN(work, farm::image::ResizeLanczos(work, w8, h8));
  }
  request.width = w8;
  request.height = h8;
  request.batch = 1;
  request.init_image = ImageToTensor01(work);
  request.strength = call.denoise;
  if (call.mask) {
    Image mask = *call.mask;
    if (mask.channels != 1 || mask.width != input.width || mask.height != input.height) {
      return InvalidArgument("inpaint mask must be 1 channel of the input's size, got " +
                             farm::image::DescribeSize(mask));
    }
    if (w8 != input.width || h8 != input.height) {
      FARM_ASSIGN_OR_RETURN(mask, farm::image::ResizeLanczos(mask, w8, h8));
    }
    request.mask = MaskToTensor01(mask);
  }
  request.controlnets.clear();
  if (call.hint && !call.controlnet_path.empty() && call.controlnet_weight > 0) {
    FARM_ASSIGN_OR_RETURN(Image hint, farm::image::ResizeLanczos(ToRgb(*call.hint), w8, h8));
    farm::sd::ControlNetUnit unit;
    unit.model = call.controlnet_path;
    unit.hint = ImageToTensor01(hint);
    unit.scale = call.controlnet_weight;
    request.controlnets.push_back(std::move(unit));
  }
  FARM_ASSIGN_OR_RETURN(Image out, RenderOne(context, request));
  if (out.width != input.width || out.height != input.height) {
    FARM_ASSIGN_OR_RETURN(out, farm::image::ResizeLanczos(out, input.width, input.height));
  }
  return out;
}

}  // namespace farm::pipeline
