// OpenPose's 70 face points (iBUG-68 landmarks + right and left pupil) from the face-ID
// pipeline's landmarks, and which detected face belongs to which body.
#pragma once

#include <vector>

#include "farm/faceid/pipeline.h"
#include "farm/pose/movenet_decode.h"
#include "farm/pose/openpose.h"

namespace farm::pose {

// For each body, the index of its face in `faces` or -1. A face is a body's when at least
// one of the body's head keypoints (nose, eyes, ears) lies inside the face's detection
// box; pairs with more head points inside win, then pairs whose nose (else the mean head
// point) is nearer the box centre; each face and body at most once.
std::vector<int> MatchFacesToBodies(const std::vector<Body>& bodies, const std::vector<faceid::Face>& faces);

// The 68 landmarks then the pupils (OpenPose 68: the subject's right eye, iBUG 36-41;
// 69: the left eye, 42-47, each the mean of its six points), all with `confidence`, the
// face detector's score. Empty when the face has no 68 landmarks.
std::vector<OpenPosePoint> OpenPoseFace(const faceid::Face& face);

}  // namespace farm::pose
