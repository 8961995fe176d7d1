// The tone stage's grade: warm raises R - B, cool lowers it, strength 0 is the identity.
#include "farm/image/tone_grade.h"

#include <gtest/gtest.h>

namespace farm::image {
namespace {

// farm_configs/tones.yaml's grades.
constexpr ToneGrade kWarm{900, 1.1, 1.05, 0.7};
constexpr ToneGrade kCool{-800, 0.95, 1.1, 0.7};
constexpr ToneGrade kNeutral{0, 1.0, 1.0, 0.0};

// A "natural" test image: a neutral grey ramp with some muted colour patches.
Image TestImage() {
  Image image = MakeImage(64, 48, 3).value();
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      uint8_t* p = image.at(x, y);
      const int grey = 40 + x * 3;
      p[0] = static_cast<uint8_t>(grey + (y < 16 ? 20 : 0));  // a skin-ish band on top
      p[1] = static_cast<uint8_t>(grey + (y < 16 ? 5 : 0));
      p[2] = static_cast<uint8_t>(grey + (y >= 32 ? 15 : 0));  // a sky-ish band below
    }
  }
  return image;
}

double MeanRedMinusBlue(const Image& image) {
  double sum = 0;
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    sum += static_cast<double>(image.pixels[i]) - image.pixels[i + 2];
  }
  return sum / (image.pixels.size() / 3);
}

TEST(ToneGradeTest, WarmRaisesAndCoolLowersRedMinusBlue) {
  const Image image = TestImage();
  const double before = MeanRedMinusBlue(image);
  StatusOr<Image> warm = ApplyToneGrade(image, kWarm);
  StatusOr<Image> cool = ApplyToneGrade(image, kCool);
  ASSERT_TRUE(warm.ok()) << warm.status().ToString();
  ASSERT_TRUE(cool.ok()) << cool.status().ToString();
  EXPECT_GT(MeanRedMinusBlue(*warm), before + 5);
  EXPECT_LT(MeanRedMinusBlue(*cool), before - 5);
}

TEST(ToneGradeTest, GreyTurnsOrangeOrBlue) {
  const Image grey = MakeImage(4, 4, 3, 128).value();
  const Image warm = ApplyToneGrade(grey, ToneGrade{900, 1, 1, 1}).value();
  const Image cool = ApplyToneGrade(grey, ToneGrade{-800, 1, 1, 1}).value();
  const uint8_t* w = warm.at(0, 0);
  const uint8_t* c = cool.at(0, 0);
  EXPECT_GT(w[0], w[1]);  // R > G > B: orange
  EXPECT_GT(w[1], w[2]);
  EXPECT_LT(c[0], c[2]);  // B > R: blue
  // Brightness is about kept.
  EXPECT_NEAR(0.2126 * w[0] + 0.7152 * w[1] + 0.0722 * w[2], 128, 2);
  EXPECT_NEAR(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2], 128, 2);
}

TEST(ToneGradeTest, GainsFollowTheShiftsSign) {
  const std::array<double, 3> warm = WhiteBalanceGains(900).value();
  const std::array<double, 3> cool = WhiteBalanceGains(-800).value();
  const std::array<double, 3> none = WhiteBalanceGains(0).value();
  EXPECT_GT(warm[0], warm[2]);
  EXPECT_LT(cool[0], cool[2]);
  for (double g : none) EXPECT_NEAR(g, 1.0, 1e-12);
  // Stronger shifts move further.
  EXPECT_GT(WhiteBalanceGains(3000).value()[0] - WhiteBalanceGains(3000).value()[2],
            warm[0] - warm[2]);
  EXPECT_TRUE(WhiteBalanceGains(5000).ok());
  EXPECT_TRUE(WhiteBalanceGains(-5000).ok());
}

TEST(ToneGradeTest, StrengthZeroAndNeutralAreTheIdentity) {
  const Image image = TestImage();
  EXPECT_EQ(ApplyToneGrade(image, kNeutral).value().pixels, image.pixels);
  ToneGrade strong_but_off = kWarm;
  strong_but_off.strength = 0;
  EXPECT_EQ(ApplyToneGrade(image, strong_but_off).value().pixels, image.pixels);
  // Full strength of a do-nothing grade changes nothing either.
  EXPECT_EQ(ApplyToneGrade(image, ToneGrade{0, 1, 1, 1}).value().pixels, image.pixels);
}

TEST(ToneGradeTest, SaturationAndContrast) {
  const Image image = TestImage();
  const Image flat = ApplyToneGrade(image, ToneGrade{0, 0, 1, 1}).value();
  for (size_t i = 0; i < flat.pixels.size(); i += 3) {  // saturation 0: grey
    EXPECT_LE(std::abs(flat.pixels[i] - flat.pixels[i + 2]), 1);
  }
  const Image low = ApplyToneGrade(image, ToneGrade{0, 1, 0, 1}).value();
  for (uint8_t v : low.pixels) EXPECT_NEAR(v, 128, 1);  // contrast 0: mid grey
}

TEST(ToneGradeTest, IsDeterministicAndKeepsAlpha) {
  Image rgba = MakeImage(8, 8, 4, 100).value();
  for (size_t i = 3; i < rgba.pixels.size(); i += 4) rgba.pixels[i] = static_cast<uint8_t>(i);
  const Image a = ApplyToneGrade(rgba, kWarm).value();
  const Image b = ApplyToneGrade(rgba, kWarm).value();
  EXPECT_EQ(a.pixels, b.pixels);
  for (size_t i = 3; i < a.pixels.size(); i += 4) EXPECT_EQ(a.pixels[i], rgba.pixels[i]);
}

TEST(ToneGradeTest, ValidatesRanges) {
  const Image image = TestImage();
  EXPECT_TRUE(ValidateToneGrade(kWarm).ok());
  EXPECT_TRUE(ValidateToneGrade(kCool).ok());
  const ToneGrade bad[] = {{5001, 1, 1, 1}, {-5001, 1, 1, 1}, {0, -0.1, 1, 1}, {0, 3.1, 1, 1},
                           {0, 1, -1, 1},   {0, 1, 3.5, 1},   {0, 1, 1, -0.1}, {0, 1, 1, 1.1},
                           {0, 1, 1, std::numeric_limits<double>::quiet_NaN()}};
  for (const ToneGrade& grade : bad) {
    StatusOr<Image> r = ApplyToneGrade(image, grade);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_NE(ValidateToneGrade(ToneGrade{0, 4, 1, 1}).message().find("saturation"),
            std::string::npos);
  EXPECT_FALSE(ApplyToneGrade(MakeImage(4, 4, 1).value(), kWarm).ok());  // no colour
  Image broken = image;
  broken.pixels.pop_back();
  EXPECT_FALSE(ApplyToneGrade(broken, kWarm).ok());
}

}  // namespace
}  // namespace farm::image
