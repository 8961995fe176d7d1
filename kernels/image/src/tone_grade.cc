// Colour grade. White balance: the RGB of a black body at 6500 K and at 6500 K - shift
// (Tanner Helland's fit of the CIE black-body colours), their ratio as channel gains,
// normalised to keep grey's luma. Then saturation around Rec. 709 luma, contrast around
// 0.5, clamp to [0, 1], blend with the original by strength, round to 8 bits.
#include "farm/image/tone_grade.h"

#include <algorithm>
#include <cmath>

namespace farm::image {
namespace {

constexpr double kReferenceKelvin = 6500;
constexpr double kLuma[3] = {0.2126, 0.7152, 0.0722};

// Black-body colour in [0, 255] per channel for 1000..40000 K.
std::array<double, 3> KelvinToRgb(double kelvin) {
  const double t = kelvin / 100.0;
  double r, g, b;
  if (t <= 66) {
    r = 255;
    g = 99.4708025861 * std::log(t) - 161.1195681661;
  } else {
    r = 329.698727446 * std::pow(t - 60, -0.1332047592);
    g = 288.1221695283 * std::pow(t - 60, -0.0755148492);
  }
  if (t >= 66) {
    b = 255;
  } else if (t <= 19) {
    b = 0;
  } else {
    b = 138.5177312231 * std::log(t - 10) - 305.0447927307;
  }
  return {std::clamp(r, 0.0, 255.0), std::clamp(g, 0.0, 255.0), std::clamp(b, 0.0, 255.0)};
}

Status CheckRange(const char* name, double value, double lo, double hi) {
  if (!std::isfinite(value) || value < lo || value > hi) {
    return InvalidArgument(std::string("tone grade: ") + name + " " + std::to_string(value) +
                           " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateToneGrade(const ToneGrade& grade) {
  FARM_RETURN_IF_ERROR(CheckRange("white_balance_shift", grade.white_balance_shift, -5000, 5000));
  FARM_RETURN_IF_ERROR(CheckRange("saturation", grade.saturation, 0, 3));
  FARM_RETURN_IF_ERROR(CheckRange("contrast", grade.contrast, 0, 3));
  FARM_RETURN_IF_ERROR(CheckRange("strength", grade.strength, 0, 1));
  return Status::Ok();
}

StatusOr<std::array<double, 3>> WhiteBalanceGains(double shift) {
  FARM_RETURN_IF_ERROR(CheckRange("white_balance_shift", shift, -5000, 5000));
  const std::array<double, 3> reference = KelvinToRgb(kReferenceKelvin);
  const std::array<double, 3> target = KelvinToRgb(kReferenceKelvin - shift);
  std::array<double, 3> gains{};
  double luma = 0;
  for (int c = 0; c < 3; ++c) {
    gains[c] = target[c] / reference[c];
    luma += kLuma[c] * gains[c];
  }
  for (double& gain : gains) gain /= luma;
  return gains;
}

StatusOr<Image> ApplyToneGrade(const Image& image, const ToneGrade& grade) {
  FARM_RETURN_IF_ERROR(ValidateImage(image, "tone grade input"));
  FARM_RETURN_IF_ERROR(ValidateToneGrade(grade));
  if (image.channels < 3) {
    return InvalidArgument("tone grade input: " + DescribeSize(image) +
                           " has no colour; expected RGB or RGBA");
  }
  Image out = image;
  if (grade.strength == 0) return out;
  using Gains = std::array<double, 3>;
  FARM_ASSIGN_OR_RETURN(const Gains gains, WhiteBalanceGains(grade.white_balance_shift));
  const size_t pixels = static_cast<size_t>(image.width) * image.height;
  const int channels = image.channels;
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* src = image.pixels.data() + i * channels;
    uint8_t* dst = out.pixels.data() + i * channels;
    double v[3];
    for (int c = 0; c < 3; ++c) v[c] = src[c] / 255.0 * gains[c];
    const double luma = kLuma[0] * v[0] + kLuma[1] * v[1] + kLuma[2] * v[2];
    for (int c = 0; c < 3; ++c) {
      double x = luma + grade.saturation * (v[c] - luma);
      x = (x - 0.5) * grade.contrast + 0.5;
      x = std::clamp(x, 0.0, 1.0) * 255.0;
      const double blended = src[c] + grade.strength * (x - src[c]);
      dst[c] = static_cast<uint8_t>(std::clamp(std::lround(blended), 0L, 255L));
    }
  }
  return out;
}

}  // namespace farm::image
