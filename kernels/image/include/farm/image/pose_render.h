// OpenPose control maps for ControlNet: the pose drawn the way the ControlNet annotator
// (controlnet_aux draw_bodypose / draw_handpose / draw_facepose) draws it, on black, at
// any output size. The pose canvas is letterboxed into the output: scaled to fit,
// centred, the scale and offset recorded.
#pragma once

#include <array>
#include <cstdint>
#include <utility>

#include "farm/image/image.h"
#include "farm/image/pose.h"
#include "farm/schemas/status.h"

namespace farm::image {

// Canvas point (x, y) lands on output pixel (x * scale + offset_x, y * scale + offset_y).
struct Letterbox {
  double scale = 1;
  double offset_x = 0;
  double offset_y = 0;
  Rect content;  // the canvas's area in the output, rounded to whole pixels
};

// Scale to fit (the smaller of out/canvas per axis), centred. InvalidArgument for a
// side outside 1..kMaxImageSide.
StatusOr<Letterbox> ComputeLetterbox(int canvas_width, int canvas_height, int out_width,
                                     int out_height);

// The annotator's 17 body limbs as keypoint index pairs (COCO 18 order) and its 18
// colours (RGB): limb i and keypoint i use colour i; limbs are drawn at 60 % of it.
inline constexpr int kBodyLimbs = 17;
std::pair<int, int> BodyLimb(int limb);
std::array<uint8_t, 3> BodyColor(int index);
std::array<uint8_t, 3> BodyLimbColor(int limb);

struct PoseRenderOptions {
  int stick_width = 4;   // half-thickness of the limb ellipses (annotator: 4)
  int joint_radius = 4;  // filled circles on body keypoints (annotator: 4)
  bool draw_hands = true;
  bool draw_face = true;
};

struct PoseMap {
  Image image;  // RGB, black background
  Letterbox letterbox;
};

// Every person: limbs, then joints, then hands (rainbow edges 2 px, blue points) and face
// (white points, radius 3), each only where both ends are visible.
StatusOr<PoseMap> RenderPoseMap(const Pose& pose, int width, int height,
                                const PoseRenderOptions& options = {});

}  // namespace farm::image
