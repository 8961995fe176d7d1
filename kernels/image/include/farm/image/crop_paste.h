// Crop, feather and paste back: what the detailer does around its inpainting pass
// (crop the face with some context, work on the crop, blend it back through a soft
// mask so no seam shows).
#pragma once

#include "farm/image/image.h"
#include "farm/schemas/status.h"

namespace farm::image {

struct CropResult {
  Image image;
  Rect rect;  // where the crop came from, in the source image
};

// `box` grown by `padding` pixels on every side, clipped to the image. InvalidArgument
// for a negative padding or a box that (after growing) does not meet the image.
StatusOr<CropResult> CropWithPadding(const Image& image, const Rect& box, int padding);

// A 1-channel mask of width x height: 255 inside `rect` (grown by `grow` px), 0 outside,
// blurred with a Gaussian of radius `blur` px (kernel 2*blur+1, sigma blur/3), so the
// edge fades over 2*blur px centred on it. Outside the frame the mask is taken to
// continue its edge value, so a rect touching the frame's edge stays solid up to it.
// blur 0 gives a hard mask. blur and grow in 0..1024.
StatusOr<Image> FeatheredMask(int width, int height, const Rect& rect, int blur, int grow = 0);

// Blends `patch` into `target` at rect: target = (patch*m + target*(255-m)) / 255 with
// m from `mask` (1 channel, the rect's size), rounded. rect must lie inside the target
// and the patch have the rect's size and the target's channels. An unchanged crop
// pasted back leaves the target exactly as it was.
Status PasteBack(Image& target, const Image& patch, const Rect& rect, const Image& mask);

}  // namespace farm::image
