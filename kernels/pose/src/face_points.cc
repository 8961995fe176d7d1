#include "farm/pose/face_points.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace farm::pose {
namespace {

constexpr int kHeadParts[] = {0, 1, 2, 3, 4};  // nose, eyes, ears (COCO)

struct Pair {
  int body;
  int face;
  int inside;       // head points inside the face box
  double distance;  // nose (or mean head point) to the box centre
};

}  // namespace

std::vector<int> MatchFacesToBodies(const std::vector<Body>& bodies, const std::vector<faceid::Face>& faces) {
  std::vector<Pair> pairs;
  for (size_t b = 0; b < bodies.size(); ++b) {
    for (size_t f = 0; f < faces.size(); ++f) {
      const faceid::Box& box = faces[f].box;
      int inside = 0;
      double sum_x = 0, sum_y = 0;
      const BodyKeypoint* nose = nullptr;
      for (const BodyKeypoint& kp : bodies[b].keypoints) {
        if (std::find(std::begin(kHeadParts), std::end(kHeadParts), kp.part) == std::end(kHeadParts)) continue;
        if (kp.part == 0) nose = &kp;
        sum_x += kp.position[0];
        sum_y += kp.position[1];
        if (kp.position[0] >= box.x && kp.position[0] <= box.x + box.width && kp.position[1] >= box.y &&
            kp.position[1] <= box.y + box.height) {
          ++inside;
        }
      }
      if (inside == 0) continue;
      int head_points = 0;
      for (const BodyKeypoint& kp : bodies[b].keypoints) head_points += kp.part <= 4 ? 1 : 0;
      const double x = nose ? nose->position[0] : sum_x / head_points;
      const double y = nose ? nose->position[1] : sum_y / head_points;
      const double distance = std::hypot(x - (box.x + box.width / 2), y - (box.y + box.height / 2));
      pairs.push_back({static_cast<int>(b), static_cast<int>(f), inside, distance});
    }
  }
  std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
    return std::make_tuple(-a.inside, a.distance, a.body, a.face) <
           std::make_tuple(-b.inside, b.distance, b.body, b.face);
  });
  std::vector<int> face_of_body(bodies.size(), -1);
  std::vector<bool> face_taken(faces.size(), false);
  for (const Pair& p : pairs) {
    if (face_of_body[p.body] >= 0 || face_taken[p.face]) continue;
    face_of_body[p.body] = p.face;
    face_taken[p.face] = true;
  }
  return face_of_body;
}

std::vector<OpenPosePoint> OpenPoseFace(const faceid::Face& face) {
  std::vector<OpenPosePoint> points;
  if (face.landmarks.size() != 68) return points;
  for (const auto& p : face.landmarks) points.push_back({p[0], p[1], face.score});
  for (int first : {36, 42}) {
    double x = 0, y = 0;
    for (int i = first; i < first + 6; ++i) {
      x += face.landmarks[i][0];
      y += face.landmarks[i][1];
    }
    points.push_back({x / 6, y / 6, face.score});
  }
  return points;
}

}  // namespace farm::pose
