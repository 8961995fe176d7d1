#include "farm/agent/face_validation.h"

#include <algorithm>
#include <filesystem>

#include "farm/faceid/image_decode.h"
#include "farm/faceid/pipeline.h"
#include "farm/sd/lora_file.h"

namespace farm::agent {
namespace {

faceid::Descriptor ToDescriptor(const faceid::Face& face) {
  return faceid::Descriptor(face.descriptor.begin(), face.descriptor.end());
}

faceid::RgbImage ToRgb(const at::Tensor& hwc) {
  const at::Tensor pixels = hwc.to(at::kByte).contiguous();
  faceid::RgbImage rgb;
  rgb.height = static_cast<int>(pixels.size(0));
  rgb.width = static_cast<int>(pixels.size(1));
  rgb.rgb.assign(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel());
  return rgb;
}

std::string WithToken(std::string prompt, const std::string& token) {
  for (size_t at = prompt.find("{token}"); at != std::string::npos; at = prompt.find("{token}", at + token.size())) {
    prompt.replace(at, 7, token);
  }
  return prompt;
}

}  // namespace

std::optional<double> StepScore(const std::vector<ValidationRender>& renders) {
  double sum = 0;
  bool any = false;
  for (const ValidationRender& r : renders) {
    if (r.similarity) {
      sum += *r.similarity;
      any = true;
    }
  }
  if (!any) return std::nullopt;
  return sum / static_cast<double>(renders.size());
}

FaceValidator::~FaceValidator() = default;

StatusOr<std::unique_ptr<FaceValidator>> FaceValidator::Create(const std::string& face_models_dir,
                                                               const std::string& dataset_folder,
                                                               const DatasetManifest& manifest) {
  FARM_ASSIGN_OR_RETURN(faceid::FacePipeline pipeline, faceid::FacePipeline::Load(face_models_dir));
  std::unique_ptr<FaceValidator> v(new FaceValidator());
  v->faces_ = std::make_shared<const faceid::FacePipeline>(std::move(pipeline));
  for (const PreparedImage& image : manifest.images) {
    const std::string path = (std::filesystem::path(dataset_folder) / image.file).string();
    FARM_ASSIGN_OR_RETURN(faceid::DecodedImage decoded, faceid::DecodeImageFile(path));
    FARM_ASSIGN_OR_RETURN(std::vector<faceid::Face> faces, v->faces_->Analyze(decoded.image));
    if (faces.empty()) continue;
    const auto largest = std::max_element(faces.begin(), faces.end(), [](const faceid::Face& a, const faceid::Face& b) {
      return a.box.width * a.box.height < b.box.width * b.box.height;
    });
    v->reference_.descriptors.push_back(ToDescriptor(*largest));
  }
  if (v->reference_.descriptors.empty()) {
    return FailedPrecondition(dataset_folder + ": no face found in any prepared image; cannot validate by face-ID");
  }
  return v;
}

StatusOr<StepValidation> FaceValidator::Validate(sd::Engine& engine, const sd::TensorMap& lora, int64_t step,
                                                 const ValidationConfig& config, const std::string& instance_token,
                                                 int clip_skip) const {
  FARM_ASSIGN_OR_RETURN(sd::LoraFile file, sd::LoraFromTensors(lora, "step " + std::to_string(step)));
  auto shared = std::make_shared<const sd::LoraFile>(std::move(file));
  StepValidation result;
  result.step = step;
  for (uint64_t seed : config.seeds) {
    sd::RenderRequest request;
    request.prompt = WithToken(config.prompt, instance_token);
    request.negative_prompt = WithToken(config.negative_prompt, instance_token);
    request.sampler = config.sampler;
    request.steps = config.steps;
    request.cfg_scale = config.cfg;
    request.clip_skip = clip_skip;
    request.seed = seed;
    request.width = config.width;
    request.height = config.height;
    request.loras.push_back({"step " + std::to_string(step), 1.0, shared});
    FARM_ASSIGN_OR_RETURN(sd::RenderOutput out, engine.Render(request));
    FARM_ASSIGN_OR_RETURN(std::vector<faceid::Face> faces, faces_->Analyze(ToRgb(out.images[0])));
    std::vector<faceid::Descriptor> descriptors;
    for (const faceid::Face& face : faces) descriptors.push_back(ToDescriptor(face));
    const faceid::FaceScore score = faceid::ScoreFaces(descriptors, reference_, faceid::Metric::kCosine);
    result.renders.push_back({seed, score.faces_found, score.similarity});
  }
  result.score = StepScore(result.renders);
  return result;
}

}  // namespace farm::agent
