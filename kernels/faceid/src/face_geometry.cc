#include "farm/faceid/face_geometry.h"

#include <algorithm>
#include <cmath>

namespace farm::faceid {
namespace {

// face-api's getCenterPoint: ((0 + p0) + p1) + ... , then divided by the count.
Point2 CenterPoint(std::span<const Point2> points) {
  double x = 0, y = 0;
  for (const Point2& p : points) {
    x = x + p[0];
    y = y + p[1];
  }
  const double n = static_cast<double>(points.size());
  return {x / n, y / n};
}

// floor() as an int; NaN or out-of-range values (from non-finite landmarks) give an
// empty extent instead of undefined behaviour.
int FloorToInt(double v) {
  const double f = std::floor(v);
  if (!(f >= -2147483648.0 && f <= 2147483647.0)) return 0;
  return static_cast<int>(f);
}

// How far v is from the nearest integer (a floor() boundary).
double BoundaryMargin(double v) { return std::min(v - std::floor(v), std::ceil(v) - v); }

double Distance(const Point2& from, const Point2& to) {
  const double dx = to[0] - from[0];
  const double dy = to[1] - from[1];
  return std::sqrt(dx * dx + dy * dy);
}

}  // namespace

IntRect ClipAndFloor(const Box& box, int image_width, int image_height) {
  const double right = box.x + box.width;
  const double bottom = box.y + box.height;
  const double cx = std::max(box.x, 0.0);
  const double cy = std::max(box.y, 0.0);
  const double w = std::min(right - cx, image_width - cx);
  const double h = std::min(bottom - cy, image_height - cy);
  return IntRect{FloorToInt(cx), FloorToInt(cy), FloorToInt(w), FloorToInt(h)};
}

IntRect LandmarkCrop(const Box& detection_box, int image_width, int image_height) {
  // FaceDetection.forSize(W, H): relativeBox = box * (1/W, 1/H), then rescaled by (W, H).
  const double inv_w = 1.0 / image_width;
  const double inv_h = 1.0 / image_height;
  const Box sized{(detection_box.x * inv_w) * image_width, (detection_box.y * inv_h) * image_height,
                  (detection_box.width * inv_w) * image_width,
                  (detection_box.height * inv_h) * image_height};
  return ClipAndFloor(sized, image_width, image_height);
}

std::vector<Point2> LandmarksToImage(std::span<const Point2> relative_to_crop,
                                     const IntRect& landmark_crop, const Box& detection_box) {
  // FaceLandmarks68(rel, crop dims) gives rel * dims; shiftBy() goes back through
  // relativePositions ((p - 0) / dims) and then * dims + shift.
  const double w = landmark_crop.width;
  const double h = landmark_crop.height;
  std::vector<Point2> out;
  out.reserve(relative_to_crop.size());
  for (const Point2& rel : relative_to_crop) {
    const double rx = (rel[0] * w) / w;
    const double ry = (rel[1] * h) / h;
    out.push_back({rx * w + detection_box.x, ry * h + detection_box.y});
  }
  return out;
}

DlibAlignDetail DlibAlignRectDetail(std::span<const Point2> landmarks68,
                                    const IntRect& landmark_crop) {
  DlibAlignDetail detail;
  if (landmarks68.size() != 68) return detail;
  const Point2 left_eye = CenterPoint(landmarks68.subspan(36, 6));
  const Point2 right_eye = CenterPoint(landmarks68.subspan(42, 6));
  const Point2 mouth = CenterPoint(landmarks68.subspan(48, 20));
  const double eye_to_mouth = (Distance(left_eye, mouth) + Distance(right_eye, mouth)) / 2;
  const double size_exact = eye_to_mouth / 0.45;
  const double size = std::floor(size_exact);
  const Point2 centers[3] = {left_eye, right_eye, mouth};
  const Point2 ref = CenterPoint(centers);
  const double x_exact = std::max(0.0, ref[0] - 0.5 * size);
  const double y_exact = std::max(0.0, ref[1] - 0.43 * size);
  const double x = std::floor(x_exact);
  const double y = std::floor(y_exact);
  // face-api's own bounds check: min(size, crop dimension + x).
  const double w = std::min(size, landmark_crop.width + x);
  const double h = std::min(size, landmark_crop.height + y);
  detail.rect = IntRect{FloorToInt(x), FloorToInt(y), FloorToInt(w), FloorToInt(h)};
  detail.size_margin = BoundaryMargin(size_exact);
  detail.x_margin = BoundaryMargin(x_exact);
  detail.y_margin = BoundaryMargin(y_exact);
  return detail;
}

IntRect DlibAlignRect(std::span<const Point2> landmarks68, const IntRect& landmark_crop) {
  return DlibAlignRectDetail(landmarks68, landmark_crop).rect;
}

}  // namespace farm::faceid
