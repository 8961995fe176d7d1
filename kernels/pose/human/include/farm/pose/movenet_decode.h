// MoveNet multipose post-processing as @vladmandic/human 3.3.6 does it (movenet.ts
// parseMultiPose, movenetfix.ts bodyParts / rescaleBody / jitter): slot and keypoint
// thresholds, two-decimal scores, human's left/right and vertical "fixes" with their
// JavaScript quirks, the stable sort by score, the rescale out of the padded frame, the
// keypoint boxes, and the per-image jitter cache. The steps and quirks are numbered as
// in ../shared/reference/pose/README.md ("MoveNet multipose").
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "farm/pose/human_image.h"

namespace farm::pose {

inline constexpr int kBodyParts = 17;  // COCO order, MoveNet's output order

// "nose", "leftEye", ... "rightAnkle" (human's names) for 0..16; "" otherwise.
const char* BodyPartName(int part);

struct BodyKeypoint {
  int part = 0;                      // COCO index 0..16; the name is BodyPartName(part)
  double score = 0;                  // round2 of the raw score
  std::array<double, 2> position{};  // photo pixels (x, y)
  std::array<double, 2> position_raw{};  // position / (W, H) after the rescale
};

struct Body {
  int id = 0;       // the model's person slot
  double score = 0; // round2 of the slot score
  std::array<double, 4> box{};      // x, y, w, h of the keypoints (px); zeros without keypoints
  std::array<double, 4> box_raw{};  // box / (W, H, W, H)
  std::vector<BodyKeypoint> keypoints;  // human's order (COCO order after the fixes)
};

struct MoveNetDecodeOptions {
  double min_confidence = 0.3;  // body.minConfidence: slot (after round2) and keypoint (raw), strict
  int max_detected = 6;         // body.maxDetected
};

// The list bodyParts works on: entries may become holes (the relative-pair swap with a
// missing part), and `stash` is JavaScript's keypoints[-1] property that such a swap writes
// and later reads.
struct PartList {
  std::vector<std::optional<BodyKeypoint>> entries;
  std::optional<BodyKeypoint> stash;
};

// movenetfix.ts bodyParts on keypoints with integer `position`s (step 2 of the README).
// Holes stay in place; RescaleBody drops them.
void FixBodyParts(PartList& list);

// Human's keypoint jitter smoothing: one cache per photo, keyed by the position in each
// body's keypoint list and shared by all bodies in order. Human's cache lives as long as
// the page; the reference starts it empty per photo, and so does DecodeMultiPose.
class JitterCache {
 public:
  // Replaces keypoints closer than 0.005 (both axes of position_raw) to the cached entry at
  // the same index by that entry; otherwise caches them. Returns how many were replaced.
  int Apply(std::vector<BodyKeypoint>& keypoints);

 private:
  std::vector<std::optional<BodyKeypoint>> cache_;
};

// Decodes MoveNet's `Identity` output (MoveNetMultipose::kSlots x 56 floats) for a photo
// of width x height (the size before padding). Bodies come sorted by score (stable).
std::vector<Body> DecodeMultiPose(const std::vector<float>& output, int width, int height,
                                  const MoveNetDecodeOptions& options = {});

}  // namespace farm::pose
