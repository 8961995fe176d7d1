// The pose library: OpenPose-format keypoints (COCO 18 body points, optional hands and
// face) in experiments/poses/<name>.json. The file format is in docs/poses.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::image {

inline constexpr int kBodyKeypoints = 18;  // COCO order as OpenPose writes it
inline constexpr int kHandKeypoints = 21;
inline constexpr int kFaceKeypoints = 70;

// "nose", "neck", "right_shoulder", ... for index 0..17; "?" otherwise.
const char* BodyKeypointName(int index);

// A point in canvas pixels; confidence 0 means "not visible" (OpenPose writes 0, 0, 0).
struct Keypoint {
  float x = 0;
  float y = 0;
  float confidence = 0;
  bool visible() const { return confidence > 0; }
};

struct PosePerson {
  std::vector<Keypoint> body;        // kBodyKeypoints entries
  std::vector<Keypoint> hand_left;   // empty or kHandKeypoints entries
  std::vector<Keypoint> hand_right;  // empty or kHandKeypoints entries
  std::vector<Keypoint> face;        // empty or kFaceKeypoints entries
};

struct Pose {
  std::string name;  // the file's stem when loaded from a file
  int canvas_width = 0;
  int canvas_height = 0;
  std::vector<PosePerson> people;  // at least one
};

// Parses a pose document. `origin` (a path) starts every message, followed by the JSON
// path of the offending value and what was expected, e.g.
//   experiments/poses/x.json: people[0].pose_keypoints_2d: expected 54 numbers
//   (18 keypoints as x, y, confidence), got 51
// Visible keypoints must lie on the canvas; confidences in [0, 1].
StatusOr<Pose> ParsePoseJson(std::string_view json, const std::string& origin);

StatusOr<Pose> LoadPoseFile(const std::string& path);

// <library_dir>/<name>.json. A name is 1-64 characters of [a-z0-9_] (no paths).
StatusOr<Pose> LoadPose(const std::string& library_dir, const std::string& name);

// The names of the library's *.json files, sorted.
StatusOr<std::vector<std::string>> ListPoses(const std::string& library_dir);

}  // namespace farm::image
