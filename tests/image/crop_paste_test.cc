// Detailer helpers: Lanczos resize, crop with padding, feathered mask, paste back.
#include "farm/image/crop_paste.h"

#include <gtest/gtest.h>

#include "farm/image/resize.h"

namespace farm::image {
namespace {

Image Pattern(int w, int h, int channels = 3) {
  Image image = MakeImage(w, h, channels).value();
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    image.pixels[i] = static_cast<uint8_t>((i * 37 + i / 7) & 0xFF);
  }
  return image;
}

TEST(CropPasteTest, CropWithPaddingIsClippedAndRecorded) {
  const Image image = Pattern(100, 80);
  StatusOr<CropResult> crop = CropWithPadding(image, Rect{40, 30, 20, 10}, 8);
  ASSERT_TRUE(crop.ok()) << crop.status().ToString();
  EXPECT_EQ(crop->rect, (Rect{32, 22, 36, 26}));
  EXPECT_EQ(crop->image.width, 36);
  EXPECT_EQ(crop->image.height, 26);
  EXPECT_EQ(crop->image.at(0, 0)[1], image.at(32, 22)[1]);
  // Near a corner the padding is clipped.
  crop = CropWithPadding(image, Rect{90, 75, 20, 20}, 16);
  ASSERT_TRUE(crop.ok());
  EXPECT_EQ(crop->rect, (Rect{74, 59, 26, 21}));
  // Outside the image, negative padding, or an invalid image: errors.
  EXPECT_EQ(CropWithPadding(image, Rect{200, 200, 5, 5}, 4).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(CropWithPadding(image, Rect{0, 0, 5, 5}, -1).ok());
  EXPECT_FALSE(CropWithPadding(image, Rect{0, 0, -5, 5}, 1).ok());
  EXPECT_TRUE(CropWithPadding(image, Rect{2147483000, 0, 2147483000, 5}, 2147483000).ok() ==
              false);
  Image broken = image;
  broken.pixels.resize(10);
  EXPECT_FALSE(CropWithPadding(broken, Rect{0, 0, 5, 5}, 1).ok());
}

TEST(CropPasteTest, FeatheredMaskShape) {
  StatusOr<Image> mask = FeatheredMask(64, 48, Rect{16, 12, 32, 24}, 6);
  ASSERT_TRUE(mask.ok()) << mask.status().ToString();
  EXPECT_EQ(mask->channels, 1);
  EXPECT_EQ(*mask->at(32, 24), 255);  // centre solid
  EXPECT_EQ(*mask->at(2, 2), 0);      // far outside empty
  EXPECT_GT(*mask->at(16, 24), 64);   // the edge is half way
  EXPECT_LT(*mask->at(16, 24), 192);
  // Monotone fade across the left edge.
  for (int x = 8; x < 24; ++x) EXPECT_LE(*mask->at(x, 24), *mask->at(x + 1, 24)) << x;
  // Blur 0 is a hard mask.
  const Image hard = FeatheredMask(10, 10, Rect{2, 2, 3, 3}, 0).value();
  EXPECT_EQ(*hard.at(2, 2), 255);
  EXPECT_EQ(*hard.at(1, 2), 0);
  // A rect touching the frame edge stays solid up to it.
  const Image edge = FeatheredMask(40, 40, Rect{0, 10, 20, 20}, 6).value();
  EXPECT_EQ(*edge.at(0, 20), 255);
  // Grow makes the solid part larger.
  const Image grown = FeatheredMask(64, 48, Rect{16, 12, 32, 24}, 6, 6).value();
  EXPECT_EQ(*grown.at(16, 24), 255);
  EXPECT_FALSE(FeatheredMask(0, 10, Rect{}, 1).ok());
  EXPECT_FALSE(FeatheredMask(10, 10, Rect{}, -1).ok());
}

TEST(CropPasteTest, PastingAnUnchangedCropBackIsTheIdentity) {
  for (int channels : {1, 3, 4}) {
    const Image image = Pattern(120, 90, channels);
    const CropResult crop = CropWithPadding(image, Rect{30, 20, 40, 30}, 12).value();
    const Image mask = FeatheredMask(crop.rect.width, crop.rect.height,
                                     Rect{12, 12, 40, 30}, 8).value();
    Image target = image;
    ASSERT_TRUE(PasteBack(target, crop.image, crop.rect, mask).ok());
    EXPECT_EQ(target.pixels, image.pixels) << channels << " channels";
  }
}

TEST(CropPasteTest, PasteBlendsThroughTheMask) {
  Image target = MakeImage(20, 20, 3, 0).value();
  const Image patch = MakeImage(10, 10, 3, 200).value();
  Image mask = MakeImage(10, 10, 1, 255).value();
  *mask.at(0, 0) = 0;
  *mask.at(1, 0) = 128;
  ASSERT_TRUE(PasteBack(target, patch, Rect{5, 5, 10, 10}, mask).ok());
  EXPECT_EQ(target.at(5, 5)[0], 0);
  EXPECT_EQ(target.at(6, 5)[0], 100);  // (200 * 128 + 127) / 255
  EXPECT_EQ(target.at(10, 10)[2], 200);
  EXPECT_EQ(target.at(4, 4)[0], 0);
}

TEST(CropPasteTest, PasteRefusesMismatches) {
  Image target = MakeImage(20, 20, 3).value();
  const Image patch = MakeImage(10, 10, 3).value();
  const Image mask = MakeImage(10, 10, 1, 255).value();
  EXPECT_FALSE(PasteBack(target, patch, Rect{15, 15, 10, 10}, mask).ok());  // leaves target
  EXPECT_FALSE(PasteBack(target, patch, Rect{0, 0, 9, 10}, mask).ok());     // size
  EXPECT_FALSE(PasteBack(target, MakeImage(10, 10, 4).value(), Rect{0, 0, 10, 10}, mask).ok());
  EXPECT_FALSE(PasteBack(target, patch, Rect{0, 0, 10, 10}, patch).ok());   // 3-channel mask
  EXPECT_TRUE(PasteBack(target, patch, Rect{0, 0, 10, 10}, mask).ok());
}

TEST(ResizeTest, LanczosResize) {
  const Image grey = MakeImage(40, 30, 3, 77).value();
  StatusOr<Image> up = ResizeLanczos(grey, 80, 60);
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(up->width, 80);
  EXPECT_EQ(up->height, 60);
  for (uint8_t v : up->pixels) EXPECT_EQ(v, 77);  // flat stays flat
  // Lanczos rings at a hard edge (overshoot), unlike bilinear.
  Image edge = MakeImage(16, 4, 1, 50).value();
  for (int y = 0; y < 4; ++y) {
    for (int x = 8; x < 16; ++x) *edge.at(x, y) = 200;
  }
  const Image big = ResizeLanczos(edge, 64, 16).value();
  uint8_t max = 0;
  for (uint8_t v : big.pixels) max = std::max(max, v);
  EXPECT_GT(max, 200);
  EXPECT_EQ(ResizeLanczos(grey, 40, 30).value().pixels, grey.pixels);
  EXPECT_FALSE(ResizeLanczos(grey, 0, 30).ok());
  EXPECT_FALSE(ResizeLanczos(Image{}, 10, 10).ok());
}

}  // namespace
}  // namespace farm::image
