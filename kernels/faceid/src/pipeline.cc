#include "farm/faceid/pipeline.h"

#include <algorithm>
#include <chrono>

#include "farm/faceid/detector.h"
#include "farm/faceid/landmark_net.h"
#include "farm/faceid/recognition_net.h"
#include "malloc_tuning.h"
#include "model_version.h"

namespace farm::faceid {

StatusOr<FacePipeline> FacePipeline::Load(const std::string& model_dir) {
  internal::KeepFreedTensorMemory();
  FacePipeline pipeline;
  FARM_ASSIGN_OR_RETURN(SsdMobilenetV1 detector, SsdMobilenetV1::Load(model_dir));
  FARM_ASSIGN_OR_RETURN(LandmarkNet landmarks, LandmarkNet::Load(model_dir));
  FARM_ASSIGN_OR_RETURN(RecognitionNet recognition, RecognitionNet::Load(model_dir));
  FARM_ASSIGN_OR_RETURN(
      pipeline.recognition_weights_sha256_,
      internal::HashManifestShards(model_dir + "/face_recognition_model-weights_manifest.json"));
  pipeline.detector_ = std::make_shared<const SsdMobilenetV1>(std::move(detector));
  pipeline.landmarks_ = std::make_shared<const LandmarkNet>(std::move(landmarks));
  pipeline.recognition_ = std::make_shared<const RecognitionNet>(std::move(recognition));
  pipeline.aligner_ = std::make_shared<const FaceApiCropAligner>();
  return pipeline;
}

void FacePipeline::SetAligner(std::shared_ptr<const FaceAligner> aligner) {
  aligner_ = aligner ? std::move(aligner) : std::make_shared<const FaceApiCropAligner>();
}

std::string FacePipeline::DescriptorModelVersion() const {
  std::string version = internal::VersionFromSha256(recognition_weights_sha256_);
  if (aligner_ && aligner_->Name() != FaceApiCropAligner::kName) version += "/" + aligner_->Name();
  return version;
}

StatusOr<std::vector<Face>> FacePipeline::Analyze(const RgbImage& image,
                                                  const AnalyzeOptions& options) const {
  if (image.rgb.size() !=
      size_t(std::max(image.width, 0)) * size_t(std::max(image.height, 0)) * 3) {
    return InvalidArgument("FacePipeline::Analyze: image buffer holds " +
                           std::to_string(image.rgb.size()) + " bytes, expected " +
                           std::to_string(image.width) + "x" + std::to_string(image.height) + "x3");
  }
  std::vector<Face> faces;
  if (image.width <= 0 || image.height <= 0) return faces;

  using Clock = std::chrono::steady_clock;
  StageTimes unused;
  StageTimes& times = options.times ? *options.times : unused;
  const auto seconds_since = [](Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  // Step 1: detection.
  auto start = Clock::now();
  FARM_ASSIGN_OR_RETURN(std::vector<Detection> detections,
                        detector_->Detect(image, options.min_confidence, options.max_results));
  times.detector += seconds_since(start);
  for (const Detection& detection : detections) {
    Face face;
    face.score = detection.score;
    face.box = detection.box;
    // Step 2: the landmark crop.
    start = Clock::now();
    face.landmark_crop = LandmarkCrop(detection.box, image.width, image.height);
    const IntRect& lc = face.landmark_crop;
    if (lc.width < 1 || lc.height < 1) continue;
    const RgbImage crop = Crop(image, lc.x, lc.y, lc.width, lc.height);
    // Steps 3-4: landmarks relative to the crop, then image pixels.
    const std::vector<Point2> relative = landmarks_->LandmarksRelativeToCrop(crop);
    face.landmarks = LandmarksToImage(relative, lc, detection.box);
    times.landmarks += seconds_since(start);
    start = Clock::now();
    // Steps 5-6: alignment and the descriptor crop.
    auto aligned = aligner_->Align(image, face.landmarks, lc);
    if (!aligned.ok()) continue;  // degenerate geometry: no chip to describe
    face.descriptor_align_rect = aligned->align_rect;
    face.descriptor_crop = aligned->crop;
    // Step 7: the descriptor.
    face.descriptor = recognition_->Describe(aligned->chip);
    times.descriptor += seconds_since(start);
    ++times.faces;
    faces.push_back(std::move(face));
  }
  return faces;
}

}  // namespace farm::faceid
