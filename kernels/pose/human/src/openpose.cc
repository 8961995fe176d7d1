#include "farm/pose/openpose.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <tuple>

namespace farm::pose {
namespace {

// OpenPose index -> COCO index; -1 is the neck.
constexpr int kFromCoco[kOpenPoseBodyPoints] = {0, -1, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3};
constexpr int kLeftShoulder = 5, kRightShoulder = 6, kLeftWrist = 9, kRightWrist = 10;

const BodyKeypoint* FindPart(const Body& body, int part) {
  for (const BodyKeypoint& kp : body.keypoints) {
    if (kp.part == part) return &kp;
  }
  return nullptr;
}

void AppendNumber(std::string& out, double v) {
  if (!std::isfinite(v)) v = 0;  // JSON has no infinities
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), v);
  out.append(buffer, ec == std::errc() ? end : buffer);
}

void AppendPoints(std::string& out, const char* key, const std::vector<OpenPosePoint>& points) {
  out += '"';
  out += key;
  out += "\":[";
  for (size_t i = 0; i < points.size(); ++i) {
    if (i) out += ',';
    AppendNumber(out, points[i].x);
    out += ',';
    AppendNumber(out, points[i].y);
    out += ',';
    AppendNumber(out, points[i].confidence);
  }
  out += ']';
}

}  // namespace

std::vector<OpenPosePoint> OpenPoseBody(const Body& body) {
  std::vector<OpenPosePoint> points(kOpenPoseBodyPoints);
  for (int i = 0; i < kOpenPoseBodyPoints; ++i) {
    if (kFromCoco[i] < 0) {
      const BodyKeypoint* l = FindPart(body, kLeftShoulder);
      const BodyKeypoint* r = FindPart(body, kRightShoulder);
      if (l && r) {
        points[i] = {(l->position[0] + r->position[0]) / 2, (l->position[1] + r->position[1]) / 2,
                     std::min(l->score, r->score)};
      }
    } else if (const BodyKeypoint* kp = FindPart(body, kFromCoco[i])) {
      points[i] = {kp->position[0], kp->position[1], kp->score};
    }
  }
  return points;
}

HandAssignmentTrace AssignHands(const std::vector<Body>& bodies, const std::vector<Hand>& hands) {
  HandAssignmentTrace trace;
  for (size_t h = 0; h < hands.size(); ++h) {
    const Hand& hand = hands[h];
    if (hand.keypoints.size() != static_cast<size_t>(kHandKeypoints)) continue;
    const double size = std::max(hand.box[2], hand.box[3]);
    for (size_t p = 0; p < bodies.size(); ++p) {
      for (Side side : {Side::kLeft, Side::kRight}) {
        const BodyKeypoint* wrist = FindPart(bodies[p], side == Side::kLeft ? kLeftWrist : kRightWrist);
        if (!wrist) continue;
        const double distance = std::hypot(hand.keypoints[0][0] - wrist->position[0],
                                           hand.keypoints[0][1] - wrist->position[1]);
        if (distance <= size) {
          trace.eligible.push_back({static_cast<int>(h), static_cast<int>(p), side, distance, size});
        }
      }
    }
  }
  std::stable_sort(trace.eligible.begin(), trace.eligible.end(),
                   [](const HandAssignment& a, const HandAssignment& b) {
                     return std::make_tuple(a.distance, a.hand, a.person, static_cast<int>(a.side)) <
                            std::make_tuple(b.distance, b.hand, b.person, static_cast<int>(b.side));
                   });
  std::vector<bool> hand_taken(hands.size(), false);
  std::vector<std::array<bool, 2>> slot_taken(bodies.size(), {false, false});
  for (const HandAssignment& a : trace.eligible) {
    bool& slot = slot_taken[a.person][static_cast<int>(a.side)];
    if (hand_taken[a.hand] || slot) continue;
    hand_taken[a.hand] = true;
    slot = true;
    trace.assigned.push_back(a);
  }
  for (size_t h = 0; h < hands.size(); ++h) {
    if (!hand_taken[h]) trace.unassigned_hands.push_back(static_cast<int>(h));
  }
  return trace;
}

OpenPoseDocument ToOpenPose(const std::vector<Body>& bodies, const std::vector<Hand>& hands, int width,
                            int height, HandAssignmentTrace* trace) {
  OpenPoseDocument document;
  document.canvas_width = width;
  document.canvas_height = height;
  for (const Body& body : bodies) document.people.push_back({OpenPoseBody(body), {}, {}, {}});
  HandAssignmentTrace assignment = AssignHands(bodies, hands);
  for (const HandAssignment& a : assignment.assigned) {
    const Hand& hand = hands[a.hand];
    OpenPosePerson& person = document.people[a.person];
    auto& points = a.side == Side::kLeft ? person.hand_left : person.hand_right;
    for (const auto& kp : hand.keypoints) points.push_back({kp[0], kp[1], hand.score});
  }
  if (trace) *trace = std::move(assignment);
  return document;
}

std::string OpenPoseJson(const OpenPoseDocument& document) {
  std::string out = "{\"version\": 1.3, \"people\": [";
  for (size_t i = 0; i < document.people.size(); ++i) {
    const OpenPosePerson& person = document.people[i];
    out += i ? ",\n" : "\n";
    out += "{\"person_id\":[-1],";
    AppendPoints(out, "pose_keypoints_2d", person.body);
    out += ',';
    AppendPoints(out, "face_keypoints_2d", person.face);
    out += ',';
    AppendPoints(out, "hand_left_keypoints_2d", person.hand_left);
    out += ',';
    AppendPoints(out, "hand_right_keypoints_2d", person.hand_right);
    out += ",\"pose_keypoints_3d\":[],\"face_keypoints_3d\":[],\"hand_left_keypoints_3d\":[],"
           "\"hand_right_keypoints_3d\":[]}";
  }
  if (!document.people.empty()) out += '\n';
  out += "], \"canvas_width\": ";
  out += std::to_string(document.canvas_width);
  out += ", \"canvas_height\": ";
  out += std::to_string(document.canvas_height);
  out += "}\n";
  return out;
}

}  // namespace farm::pose
