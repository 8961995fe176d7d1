#include "farm/agent/face_crop.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace farm::agent {
namespace {

// The start of a span of `side` pixels centred on `centre`, clamped to [0, extent - side].
int PlaceSpan(double centre, int side, int extent) {
  const long start = std::lround(centre - side / 2.0);
  return static_cast<int>(std::clamp<long>(start, 0, extent - side));
}

}  // namespace

StatusOr<PixelRect> SquareCropAroundFace(const FaceBox& face, int image_width, int image_height,
                                         double ratio) {
  if (image_width <= 0 || image_height <= 0) {
    return InvalidArgument("face crop: image size " + std::to_string(image_width) + "x" +
                           std::to_string(image_height) + " (expected positive sides)");
  }
  if (!(face.width > 0) || !(face.height > 0) || !std::isfinite(face.x) || !std::isfinite(face.y)) {
    return InvalidArgument("face crop: the face box is empty or not finite");
  }
  if (!(ratio >= 1.0) || !std::isfinite(ratio)) {
    return InvalidArgument("face crop: ratio " + std::to_string(ratio) +
                           " (expected a finite number >= 1: the crop must hold the whole face)");
  }
  const double wanted = ratio * std::max(face.width, face.height);
  // Largest square inside the image; at least one pixel.
  const int limit = std::min(image_width, image_height);
  const int side = static_cast<int>(std::clamp<double>(std::round(wanted), 1.0, limit));
  PixelRect crop;
  crop.width = crop.height = side;
  crop.x = PlaceSpan(face.x + face.width / 2.0, side, image_width);
  crop.y = PlaceSpan(face.y + face.height / 2.0, side, image_height);
  return crop;
}

}  // namespace farm::agent
