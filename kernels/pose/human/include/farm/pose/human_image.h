// The image preprocessing of @vladmandic/human 3.3.6 as tfjs's cpu backend computes it:
// tf.image.resizeBilinear and tf.image.cropAndResize in double arithmetic with float32
// results, tf.cast(float -> int32) by truncation. With these, MoveNet's input, the hand
// detector's input and the hand-landmark crops equal the reference tensors exactly
// (../shared/reference/pose/README.md, "Shared formulas" and the hand pipeline).
// Images are row-major HWC RGB, 8 bits per channel, as the photo decoder returns them.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace farm::pose {

// A view of a decoded photo; `rgb` holds height * width * 3 bytes.
struct RgbView {
  const uint8_t* rgb = nullptr;
  int width = 0;
  int height = 0;
};

// movenetfix.ts padInput: zero rows (landscape) or columns (portrait) on both sides,
// trunc(|W-H|/2) each, so an odd difference leaves the padded image 1 px short of square.
struct MoveNetPadding {
  int top = 0;
  int bottom = 0;
  int left = 0;
  int right = 0;
};
MoveNetPadding MoveNetPaddingFor(int width, int height);

// Graph input of MoveNet: the padded photo resized (bilinear, no corner alignment) to
// size x size and truncated to int32; size * size * 3 values. 256 is human's size.
std::vector<int32_t> MoveNetInput(const RgbView& image, int size = 256);

// handtrack.ts detectHands: h = min(round(H/8)*8, 512), w = round(h*(W/H)/8)*8.
struct InputSize {
  int height = 0;
  int width = 0;
};
InputSize HandDetectorInputSize(int width, int height);

// Graph input of the hand detector: the photo resized to HandDetectorInputSize, truncated.
std::vector<int32_t> HandDetectorInput(const RgbView& image);

// tf.image.resizeBilinear(x, [out_h, out_w]) with align_corners and half_pixel_centers
// false on a float32 HWC image with `channels` channels.
std::vector<float> ResizeBilinear(const std::vector<float>& image, int height, int width, int channels,
                                  int out_height, int out_width);

// tf.image.cropAndResize(image, [box], [0], [size, size], 'bilinear') with extrapolation
// value 0, then divided by 255 in float32: the hand-landmark net's input (size*size*3).
// `box_y1x1y2x2` is normalised to the photo and already rounded to float32, as tfjs holds it.
std::vector<float> HandLandmarkInput(const RgbView& image, const std::array<float, 4>& box_y1x1y2x2,
                                     int size = 224);

}  // namespace farm::pose
