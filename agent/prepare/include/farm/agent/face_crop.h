// Where a training crop is cut from a photo: a square around the detected face box,
// grown by a ratio and kept inside the image. Pure arithmetic, no image library.
#pragma once

#include "farm/schemas/status.h"

namespace farm::agent {

// A rectangle of pixels: [x, x + width) x [y, y + height) (for a crop, width == height).
struct PixelRect {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
  friend bool operator==(const PixelRect&, const PixelRect&) = default;
};

// A detected face box in pixels of the analysed image (may reach slightly outside it).
struct FaceBox {
  double x = 0;
  double y = 0;
  double width = 0;
  double height = 0;
};

// The square of side round(ratio * max(face width, face height)) centred on the face
// box's centre, shifted (not shrunk) to lie inside image_width x image_height. When that
// square is larger than the image's shorter side it becomes the largest square that fits,
// still placed as close to centred on the face as the image allows, so it contains the
// face whenever the face fits in such a square at all. InvalidArgument for a non-positive
// image size or face size, or a ratio below 1 (a crop must not cut into the face).
StatusOr<PixelRect> SquareCropAroundFace(const FaceBox& face, int image_width, int image_height,
                                         double ratio);

}  // namespace farm::agent
