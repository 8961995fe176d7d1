// Rectangles of the face pipeline, in pixels of the analysed image: x runs right, y runs
// down, the origin is the top-left corner of the top-left pixel.
#pragma once

namespace farm::faceid {

// A floating-point box (face-api's Box/Rect): top-left corner and size.
struct Box {
  double x = 0;
  double y = 0;
  double width = 0;
  double height = 0;
};

// An integer region of pixels: image[y:y+height, x:x+width].
struct IntRect {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
  bool operator==(const IntRect&) const = default;
};

}  // namespace farm::faceid
