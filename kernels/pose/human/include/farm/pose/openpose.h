// human's bodies and hands as an OpenPose BODY-18 document (the `--write_json` layout
// ControlNet's OpenPose preprocessors write): the COCO-17 -> BODY-18 mapping with the
// neck, human's visibility, and the greedy hand -> wrist assignment. These are the
// reference's documented rules (../shared/reference/pose/README.md, "OpenPose BODY-18"),
// not part of human.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "farm/pose/hand_decode.h"
#include "farm/pose/movenet_decode.h"

namespace farm::pose {

inline constexpr int kOpenPoseBodyPoints = 18;
inline constexpr int kOpenPoseFacePoints = 70;  // 68 landmarks + 2 pupils

struct OpenPosePoint {
  double x = 0;
  double y = 0;
  double confidence = 0;  // 0: not visible, written as (0, 0, 0)
};

struct OpenPosePerson {
  std::vector<OpenPosePoint> body;        // 18
  std::vector<OpenPosePoint> hand_left;   // 21 or empty
  std::vector<OpenPosePoint> hand_right;  // 21 or empty
  std::vector<OpenPosePoint> face;        // 70 or empty
};

struct OpenPoseDocument {
  int canvas_width = 0;
  int canvas_height = 0;
  std::vector<OpenPosePerson> people;  // in body order
};

// The 18 points of one body: a point is visible iff human kept that keypoint; the neck is
// the shoulders' midpoint with the lower score when both are visible.
std::vector<OpenPosePoint> OpenPoseBody(const Body& body);

enum class Side { kLeft, kRight };

struct HandAssignment {
  int hand = 0;    // index into the hands given
  int person = 0;  // index into the bodies given
  Side side = Side::kLeft;
  double distance = 0;   // hand keypoint 0 to the wrist (px)
  double hand_size = 0;  // max(box w, box h) of the hand's keypoints
};

struct HandAssignmentTrace {
  std::vector<HandAssignment> eligible;  // sorted by distance, hand, person, side
  std::vector<HandAssignment> assigned;  // in the order taken
  std::vector<int> unassigned_hands;     // ascending
};

// Hands with 21 keypoints go to a person's visible wrist (COCO leftWrist / rightWrist) no
// farther than the hand's size from its keypoint 0, nearest first; each hand and each
// (person, side) at most once.
HandAssignmentTrace AssignHands(const std::vector<Body>& bodies, const std::vector<Hand>& hands);

// People in body order with the assigned hands (21 points, confidence = the hand's score).
OpenPoseDocument ToOpenPose(const std::vector<Body>& bodies, const std::vector<Hand>& hands,
                            int width, int height, HandAssignmentTrace* trace = nullptr);

// The OpenPose JSON: {"version": 1.3, "people": [...], "canvas_width", "canvas_height"};
// person_id [-1], empty face and 3-D arrays. Numbers are shortest round-trip decimals.
std::string OpenPoseJson(const OpenPoseDocument& document);

}  // namespace farm::pose
