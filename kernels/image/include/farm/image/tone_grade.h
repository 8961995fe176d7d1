// The `tone` pipeline stage's colour grade (farm_configs/tones.yaml, "grade"): white
// balance shift, saturation, contrast, then a blend of the graded image over the
// original. Deterministic: the same input and settings give the same bytes everywhere.
#pragma once

#include <array>

#include "farm/image/image.h"
#include "farm/schemas/status.h"

namespace farm::image {

struct ToneGrade {
  // Kelvin-like shift of the white point: > 0 warmer (towards orange), < 0 cooler
  // (towards blue); [-5000, 5000]. The image is rendered as if lit at 6500 K - shift.
  double white_balance_shift = 0;
  double saturation = 1;  // multiplier around each pixel's luma; [0, 3]
  double contrast = 1;    // multiplier around mid grey; [0, 3]
  double strength = 0;    // blend of graded over original; [0, 1]; 0 is the identity
};

// OK when every field is finite and inside its range; the message names the field.
Status ValidateToneGrade(const ToneGrade& grade);

// Per-channel gains (R, G, B) of a white balance shift, normalised so that the luma of
// a neutral grey is kept: R > B for a positive shift, B > R for a negative one.
StatusOr<std::array<double, 3>> WhiteBalanceGains(double white_balance_shift);

// The graded image. RGB or RGBA (alpha kept); a grey image is InvalidArgument.
StatusOr<Image> ApplyToneGrade(const Image& image, const ToneGrade& grade);

}  // namespace farm::image
