// Pose drawing after the ControlNet annotator (controlnet_aux open_pose/util.py): limbs
// are filled ellipses (ellipse2Poly with the limb's half length and stick_width as axes,
// integer angle, 1-degree steps) in 60 % of the limb colour, joints filled circles in the
// full colour. Coordinates are truncated to integers as the annotator's int() does.
#include "farm/image/pose_render.h"

#include <cmath>
#include <numbers>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "mat_util.h"

namespace farm::image {
namespace {

// 1-based pairs in the annotator's source; 0-based here.
constexpr std::pair<int, int> kLimbs[kBodyLimbs] = {
    {1, 2}, {1, 5},  {2, 3},   {3, 4},  {5, 6},   {6, 7},  {1, 8},  {8, 9},  {9, 10},
    {1, 11}, {11, 12}, {12, 13}, {1, 0}, {0, 14}, {14, 16}, {0, 15}, {15, 17}};

constexpr std::array<uint8_t, 3> kColors[kBodyKeypoints] = {
    {255, 0, 0},   {255, 85, 0},  {255, 170, 0}, {255, 255, 0}, {170, 255, 0}, {85, 255, 0},
    {0, 255, 0},   {0, 255, 85},  {0, 255, 170}, {0, 255, 255}, {0, 170, 255}, {0, 85, 255},
    {0, 0, 255},   {85, 0, 255},  {170, 0, 255}, {255, 0, 255}, {255, 0, 170}, {255, 0, 85}};

constexpr std::pair<int, int> kHandEdges[20] = {
    {0, 1},  {1, 2},   {2, 3},   {3, 4},   {0, 5},   {5, 6},   {6, 7},
    {7, 8},  {0, 9},   {9, 10},  {10, 11}, {11, 12}, {0, 13},  {13, 14},
    {14, 15}, {15, 16}, {0, 17}, {17, 18}, {18, 19}, {19, 20}};

cv::Scalar ToScalar(const std::array<uint8_t, 3>& c) { return cv::Scalar(c[0], c[1], c[2]); }

// matplotlib.colors.hsv_to_rgb([h, 1, 1]) * 255 for the hand edges.
cv::Scalar HueColor(double h) {
  const int i = static_cast<int>(h * 6.0);
  const double f = h * 6.0 - i;
  double r = 0, g = 0, b = 0;
  switch (i % 6) {
    case 0: r = 1, g = f, b = 0; break;
    case 1: r = 1 - f, g = 1, b = 0; break;
    case 2: r = 0, g = 1, b = f; break;
    case 3: r = 0, g = 1 - f, b = 1; break;
    case 4: r = f, g = 0, b = 1; break;
    default: r = 1, g = 0, b = 1 - f; break;
  }
  return cv::Scalar(r * 255.0, g * 255.0, b * 255.0);
}

struct Mapper {
  Letterbox box;
  double X(const Keypoint& p) const { return p.x * box.scale + box.offset_x; }
  double Y(const Keypoint& p) const { return p.y * box.scale + box.offset_y; }
  cv::Point Point(const Keypoint& p) const {
    return cv::Point(static_cast<int>(std::floor(X(p))), static_cast<int>(std::floor(Y(p))));
  }
};

void DrawBody(cv::Mat& canvas, const std::vector<Keypoint>& body, const Mapper& map,
              const PoseRenderOptions& options) {
  for (int limb = 0; limb < kBodyLimbs; ++limb) {
    const Keypoint& a = body[kLimbs[limb].first];
    const Keypoint& b = body[kLimbs[limb].second];
    if (!a.visible() || !b.visible()) continue;
    const double ax = map.X(a), ay = map.Y(a), bx = map.X(b), by = map.Y(b);
    const double length = std::hypot(ax - bx, ay - by);
    const double angle = std::atan2(ay - by, ax - bx) * 180.0 / std::numbers::pi;
    std::vector<cv::Point> polygon;
    cv::ellipse2Poly(cv::Point(static_cast<int>((ax + bx) / 2), static_cast<int>((ay + by) / 2)),
                     cv::Size(static_cast<int>(length / 2), options.stick_width),
                     static_cast<int>(angle), 0, 360, 1, polygon);
    cv::fillConvexPoly(canvas, polygon, ToScalar(BodyLimbColor(limb)));
  }
  for (int i = 0; i < kBodyKeypoints; ++i) {
    if (!body[i].visible()) continue;
    cv::circle(canvas, map.Point(body[i]), options.joint_radius, ToScalar(kColors[i]), cv::FILLED);
  }
}

void DrawHand(cv::Mat& canvas, const std::vector<Keypoint>& hand, const Mapper& map) {
  if (hand.size() != static_cast<size_t>(kHandKeypoints)) return;
  for (int e = 0; e < 20; ++e) {
    const Keypoint& a = hand[kHandEdges[e].first];
    const Keypoint& b = hand[kHandEdges[e].second];
    if (!a.visible() || !b.visible()) continue;
    cv::line(canvas, map.Point(a), map.Point(b), HueColor(e / 20.0), 2);
  }
  for (const Keypoint& p : hand) {
    if (p.visible()) cv::circle(canvas, map.Point(p), 4, cv::Scalar(0, 0, 255), cv::FILLED);
  }
}

void DrawFace(cv::Mat& canvas, const std::vector<Keypoint>& face, const Mapper& map) {
  for (const Keypoint& p : face) {
    if (p.visible()) cv::circle(canvas, map.Point(p), 3, cv::Scalar(255, 255, 255), cv::FILLED);
  }
}

}  // namespace

std::pair<int, int> BodyLimb(int limb) {
  return limb >= 0 && limb < kBodyLimbs ? kLimbs[limb] : std::pair<int, int>{-1, -1};
}

std::array<uint8_t, 3> BodyColor(int index) {
  return index >= 0 && index < kBodyKeypoints ? kColors[index] : std::array<uint8_t, 3>{0, 0, 0};
}

std::array<uint8_t, 3> BodyLimbColor(int limb) {
  const std::array<uint8_t, 3> full = BodyColor(limb);
  std::array<uint8_t, 3> out{};
  for (int c = 0; c < 3; ++c) out[c] = static_cast<uint8_t>(static_cast<double>(full[c]) * 0.6);
  return out;
}

StatusOr<Letterbox> ComputeLetterbox(int canvas_width, int canvas_height, int out_width,
                                     int out_height) {
  for (int side : {canvas_width, canvas_height, out_width, out_height}) {
    if (side < 1 || side > kMaxImageSide) {
      return InvalidArgument("letterbox: canvas " + std::to_string(canvas_width) + "x" +
                             std::to_string(canvas_height) + " into " + std::to_string(out_width) +
                             "x" + std::to_string(out_height) + ": sides must be in 1.." +
                             std::to_string(kMaxImageSide));
    }
  }
  Letterbox box;
  box.scale = std::min(static_cast<double>(out_width) / canvas_width,
                       static_cast<double>(out_height) / canvas_height);
  const double content_w = canvas_width * box.scale;
  const double content_h = canvas_height * box.scale;
  box.offset_x = (out_width - content_w) / 2.0;
  box.offset_y = (out_height - content_h) / 2.0;
  const int x0 = static_cast<int>(std::lround(box.offset_x));
  const int y0 = static_cast<int>(std::lround(box.offset_y));
  box.content = ClipRect(Rect{x0, y0, static_cast<int>(std::lround(box.offset_x + content_w)) - x0,
                              static_cast<int>(std::lround(box.offset_y + content_h)) - y0},
                         out_width, out_height);
  return box;
}

StatusOr<PoseMap> RenderPoseMap(const Pose& pose, int width, int height,
                                const PoseRenderOptions& options) {
  if (options.stick_width < 1 || options.stick_width > 256 || options.joint_radius < 0 ||
      options.joint_radius > 256) {
    return InvalidArgument("pose map: stick_width must be in 1..256 and joint_radius in 0..256");
  }
  FARM_ASSIGN_OR_RETURN(Letterbox box,
                        ComputeLetterbox(pose.canvas_width, pose.canvas_height, width, height));
  FARM_ASSIGN_OR_RETURN(Image image, MakeImage(width, height, 3, 0));
  cv::Mat canvas = internal::WrapMat(image);
  const Mapper map{box};
  for (size_t i = 0; i < pose.people.size(); ++i) {
    const PosePerson& person = pose.people[i];
    if (person.body.size() != static_cast<size_t>(kBodyKeypoints)) {
      return InvalidArgument("pose map: person " + std::to_string(i) + " has " +
                             std::to_string(person.body.size()) + " body keypoints; expected " +
                             std::to_string(kBodyKeypoints));
    }
    DrawBody(canvas, person.body, map, options);
    if (options.draw_hands) {
      DrawHand(canvas, person.hand_left, map);
      DrawHand(canvas, person.hand_right, map);
    }
    if (options.draw_face) DrawFace(canvas, person.face, map);
  }
  return PoseMap{std::move(image), box};
}

}  // namespace farm::image
