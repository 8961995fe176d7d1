// The integer crops and coordinate mappings between face-api's nets (README steps 2, 4,
// 5 and 6), with face-api's JavaScript double arithmetic reproduced step by step so the
// floors land on the same pixels.
#pragma once

#include <array>
#include <span>
#include <vector>

#include "farm/faceid/geometry.h"

namespace farm::faceid {

using Point2 = std::array<double, 2>;  // [x, y]

// Box.clipAtImageBorders: cx = max(x, 0), cy = max(y, 0), w = min(x + width - cx, W - cx),
// h = min(y + height - cy, H - cy), each floored on its own. Width or height can come out
// zero or negative for a box outside the image.
IntRect ClipAndFloor(const Box& box, int image_width, int image_height);

// README step 2: the region fed to the landmark net for a detection box. The box first
// goes through face-api's FaceDetection.forSize round trip ((x * (1/W)) * W), then
// ClipAndFloor.
IntRect LandmarkCrop(const Box& detection_box, int image_width, int image_height);

// README step 4: landmarks relative to the crop -> image pixels, shifted by the
// *unfloored* detection box origin (face-api's quirk): x = rel_x * crop.width + box.x.
std::vector<Point2> LandmarksToImage(std::span<const Point2> relative_to_crop,
                                     const IntRect& landmark_crop, const Box& detection_box);

// README step 5 (landmarks.align(null, {useDlibAlignment: true})): the square around the
// eye and mouth centres of 68 landmarks in image pixels. Needs 68 points.
IntRect DlibAlignRect(std::span<const Point2> landmarks68, const IntRect& landmark_crop);

// The same computation, exposing how far the value under each floor() was from the
// nearest integer (the reference's floor_margin_px; under ~1e-3 px, float noise elsewhere
// can move the crop by 1 px).
struct DlibAlignDetail {
  IntRect rect;
  double size_margin = 0;  // of eyeToMouth / 0.45
  double x_margin = 0;     // of max(0, ref.x - 0.5 * size)
  double y_margin = 0;     // of max(0, ref.y - 0.43 * size)
};
DlibAlignDetail DlibAlignRectDetail(std::span<const Point2> landmarks68,
                                    const IntRect& landmark_crop);

}  // namespace farm::faceid
