// The input preparation shared by face-api's nets (README "Shared helper" sections).
#pragma once

#include <ATen/ATen.h>

#include "farm/faceid/image.h"

namespace farm::faceid {

// tf.image.resizeBilinear(alignCorners=false, halfPixelCenters=false) of a float32
// [H, W, C] tensor to [out_h, out_w, C]: arithmetic in double, float32 out. Returns the
// input (as float32) unchanged when it already has the target size.
at::Tensor ResizeBilinear(const at::Tensor& hwc_float, int out_h, int out_w);

// face-api's toBatchTensor: pads a non-square image with zeros to a square along its
// shorter axis (centered=false: all padding after the image; centered=true:
// Math.round(|h-w|/2) after, the rest before), then resizes to size x size.
// Returns float32 [size, size, 3], values 0..255, not normalised.
at::Tensor ToBatchTensor(const RgbImage& image, int size, bool centered);

// The padded square (before the resize) as float32 [S, S, 3], S = max(h, w).
at::Tensor PadToSquare(const RgbImage& image, bool centered);

}  // namespace farm::faceid
