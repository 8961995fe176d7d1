// Image decoding: the demo JPEGs must decode to the reference's libjpeg-turbo pixels, and
// broken, odd or extreme files (generated here) must give clear errors or sane images.
#include "farm/faceid/image_decode.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "faceid_paths.h"
#include "farm/schemas/sha256.h"
#include "reference_json.h"

namespace farm::faceid {
namespace {
namespace fs = std::filesystem;

std::string PixelHash(const RgbImage& image) {
  return Sha256Hex(
      std::string_view(reinterpret_cast<const char*>(image.rgb.data()), image.rgb.size()));
}

std::string Encode(const std::string& ext, const cv::Mat& mat, std::vector<int> params = {}) {
  std::vector<uchar> buf;
  EXPECT_TRUE(cv::imencode(ext, mat, buf, params));
  return std::string(buf.begin(), buf.end());
}

// An APP1 EXIF segment holding only the orientation tag, in either byte order.
std::string ExifSegment(int orientation, bool big_endian) {
  std::string tiff;
  auto u16 = [&](int v) {
    if (big_endian) {
      tiff.push_back(char(v >> 8));
      tiff.push_back(char(v & 0xFF));
    } else {
      tiff.push_back(char(v & 0xFF));
      tiff.push_back(char(v >> 8));
    }
  };
  auto u32 = [&](uint32_t v) {
    if (big_endian) {
      u16(int(v >> 16));
      u16(int(v & 0xFFFF));
    } else {
      u16(int(v & 0xFFFF));
      u16(int(v >> 16));
    }
  };
  tiff += big_endian ? "MM" : "II";
  u16(42);
  u32(8);            // IFD0 offset
  u16(1);            // one entry
  u16(0x0112);       // Orientation
  u16(3);            // SHORT
  u32(1);            // count
  u16(orientation);  // value, padded to 4 bytes
  u16(0);
  u32(0);  // no next IFD
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  const size_t length = payload.size() + 2;
  return std::string("\xFF\xE1", 2) + char(length >> 8) + char(length & 0xFF) + payload;
}

std::string WithSegmentAfterSoi(const std::string& jpeg, const std::string& segment) {
  return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

// A colourful test picture: four flat quadrants (so JPEG keeps them recognisable).
cv::Mat Quadrants(int width, int height) {
  cv::Mat bgr(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const bool right = x >= width / 2, bottom = y >= height / 2;
      bgr.at<cv::Vec3b>(y, x) = right ? (bottom ? cv::Vec3b(255, 255, 255) : cv::Vec3b(0, 0, 255))
                                      : (bottom ? cv::Vec3b(255, 0, 0) : cv::Vec3b(0, 255, 0));
    }
  }
  return bgr;
}

RgbImage FromBgr(const cv::Mat& bgr) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  RgbImage out;
  out.width = rgb.cols;
  out.height = rgb.rows;
  out.rgb.assign(rgb.data, rgb.data + rgb.total() * 3);
  return out;
}

const uint8_t* Pixel(const RgbImage& image, int x, int y) {
  return image.rgb.data() + (size_t(y) * image.width + x) * 3;
}

class ImageDecodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("farm-faceid-decode-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Write(const std::string& name, std::string_view bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    return path;
  }
  fs::path dir_;
};

TEST(ImageDecodeReference, DemoJpegsMatchLibjpegTurboPixels) {
  FARM_FACEID_REQUIRE_REFERENCE(reference);
  FARM_FACEID_REQUIRE_DEMO(demo);
  for (int sample = 1; sample <= 3; ++sample) {
    const std::string name = "sample" + std::to_string(sample);
    SCOPED_TRACE(name);
    auto decoded = DecodeImageFile(demo + "/" + name + ".jpg");
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    const nlohmann::json ref = testing::ReadJsonFile(reference + "/" + name + ".json");
    EXPECT_EQ(decoded->image.width, ref["image"]["width"].get<int>());
    EXPECT_EQ(decoded->image.height, ref["image"]["height"].get<int>());
    EXPECT_EQ(PixelHash(decoded->image),
              ref["results_by_decoder"]["libjpeg-turbo"]["decoded_rgb_sha256"].get<std::string>());
    EXPECT_EQ(decoded->format, "jpeg");
    EXPECT_FALSE(decoded->exif_rotated);
    EXPECT_FALSE(decoded->downscaled);
    EXPECT_EQ(decoded->note, "");
  }
}

TEST_F(ImageDecodeTest, MissingEmptyAndNonImageFilesAreClearErrors) {
  auto missing = DecodeImageFile((dir_ / "nope.jpg").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  auto empty = DecodeImageFile(Write("empty.jpg", ""));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("empty"), std::string::npos) << empty.status().ToString();

  auto text = DecodeImageFile(Write("notes.png", "these are not the pixels you are looking for\n"));
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("not a decodable image"), std::string::npos)
      << text.status().ToString();

  // A JPEG signature followed by garbage.
  auto garbage =
      DecodeImageBytes(std::string("\xFF\xD8\xFF\xE0\x00\x04zz", 8) + std::string(64, 'x'));
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("JPEG"), std::string::npos)
      << garbage.status().ToString();
}

TEST_F(ImageDecodeTest, TruncatedJpegIsDataLoss) {
  cv::Mat noise(48, 64, CV_8UC3);
  cv::randu(noise, 0, 255);
  const std::string jpeg = Encode(".jpg", noise, {cv::IMWRITE_JPEG_QUALITY, 95});
  ASSERT_TRUE(DecodeImageBytes(jpeg).ok());
  for (const size_t keep : {jpeg.size() * 6 / 10, jpeg.size() - 2}) {
    SCOPED_TRACE(keep);
    auto cut = DecodeImageFile(Write("cut.jpg", std::string_view(jpeg).substr(0, keep)));
    ASSERT_FALSE(cut.ok());
    EXPECT_EQ(cut.status().code(), StatusCode::kDataLoss) << cut.status().ToString();
    EXPECT_NE(cut.status().message().find("truncated"), std::string::npos)
        << cut.status().ToString();
  }
  // Cut inside the header: an error as well (not a crash).
  EXPECT_FALSE(DecodeImageBytes(std::string_view(jpeg).substr(0, 40)).ok());
}

TEST_F(ImageDecodeTest, TruncatedPngIsDataLoss) {
  cv::Mat noise(48, 64, CV_8UC3);
  cv::randu(noise, 0, 255);
  const std::string png = Encode(".png", noise);
  auto whole = DecodeImageBytes(png);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->format, "png");
  EXPECT_EQ(whole->image.rgb, FromBgr(noise).rgb);
  for (const size_t keep : {png.size() / 2, png.size() - 4, size_t{20}}) {
    SCOPED_TRACE(keep);
    auto cut = DecodeImageFile(Write("cut.png", std::string_view(png).substr(0, keep)));
    ASSERT_FALSE(cut.ok());
    EXPECT_EQ(cut.status().code(), StatusCode::kDataLoss) << cut.status().ToString();
    EXPECT_NE(cut.status().message().find("truncated PNG"), std::string::npos)
        << cut.status().ToString();
  }
}

TEST_F(ImageDecodeTest, GrayscaleIsReplicatedToRgb) {
  cv::Mat gray(10, 12, CV_8UC1);
  for (int i = 0; i < 120; ++i) gray.data[i] = static_cast<uint8_t>(i * 2);
  auto png = DecodeImageBytes(Encode(".png", gray));
  ASSERT_TRUE(png.ok()) << png.status().ToString();
  ASSERT_EQ(png->image.width, 12);
  ASSERT_EQ(png->image.height, 10);
  for (int i = 0; i < 120; ++i) {
    ASSERT_EQ(png->image.rgb[3 * i], gray.data[i]);
    ASSERT_EQ(png->image.rgb[3 * i + 1], gray.data[i]);
    ASSERT_EQ(png->image.rgb[3 * i + 2], gray.data[i]);
  }
  EXPECT_NE(png->note.find("grayscale"), std::string::npos);

  // A grayscale JPEG goes through libjpeg's gray -> RGB conversion.
  const std::string jpeg_bytes = Encode(".jpg", gray);
  auto jpeg = DecodeImageBytes(jpeg_bytes);
  ASSERT_TRUE(jpeg.ok()) << jpeg.status().ToString();
  const cv::Mat expected =
      cv::imdecode(std::vector<uchar>(jpeg_bytes.begin(), jpeg_bytes.end()), cv::IMREAD_GRAYSCALE);
  for (int i = 0; i < 120; ++i) {
    ASSERT_EQ(jpeg->image.rgb[3 * i], expected.data[i]);
    ASSERT_EQ(jpeg->image.rgb[3 * i + 2], expected.data[i]);
  }
}

TEST_F(ImageDecodeTest, AlphaIsCompositedOntoBlack) {
  cv::Mat bgra(1, 3, CV_8UC4);
  bgra.at<cv::Vec4b>(0, 0) = cv::Vec4b(200, 100, 50, 255);  // opaque
  bgra.at<cv::Vec4b>(0, 1) = cv::Vec4b(200, 100, 50, 0);    // transparent
  bgra.at<cv::Vec4b>(0, 2) = cv::Vec4b(200, 100, 50, 128);  // half
  auto decoded = DecodeImageFile(Write("alpha.png", Encode(".png", bgra)));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const RgbImage& im = decoded->image;
  EXPECT_EQ(std::vector<int>(im.rgb.begin(), im.rgb.begin() + 3), (std::vector<int>{50, 100, 200}));
  EXPECT_EQ(std::vector<int>(im.rgb.begin() + 3, im.rgb.begin() + 6), (std::vector<int>{0, 0, 0}));
  for (int c = 0; c < 3; ++c) {
    const int original = (c == 0) ? 50 : (c == 1) ? 100 : 200;
    EXPECT_EQ(im.rgb[6 + c], static_cast<int>(std::lround(original * 128 / 255.0)));
  }
  EXPECT_NE(decoded->note.find("alpha"), std::string::npos);
}

TEST_F(ImageDecodeTest, SixteenBitPngIsScaledToEightBits) {
  cv::Mat deep(1, 2, CV_16UC3);
  deep.at<cv::Vec3w>(0, 0) = cv::Vec3w(65535, 257 * 100, 0);  // B, G, R
  deep.at<cv::Vec3w>(0, 1) = cv::Vec3w(257 * 7 + 128, 300, 65280);
  auto decoded = DecodeImageBytes(Encode(".png", deep));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const auto& rgb = decoded->image.rgb;
  EXPECT_EQ(std::vector<int>(rgb.begin(), rgb.begin() + 3), (std::vector<int>{0, 100, 255}));
  EXPECT_EQ(std::vector<int>(rgb.begin() + 3, rgb.end()),
            (std::vector<int>{254, 1, int(std::lround((257 * 7 + 128) / 257.0))}));
  EXPECT_NE(decoded->note.find("16-bit"), std::string::npos);
}

TEST_F(ImageDecodeTest, ExifOrientationIsAppliedLikeOpenCv) {
  const std::string plain = Encode(".jpg", Quadrants(24, 16), {cv::IMWRITE_JPEG_QUALITY, 100});
  for (int orientation = 1; orientation <= 8; ++orientation) {
    for (bool big_endian : {false, true}) {
      SCOPED_TRACE("orientation " + std::to_string(orientation) + (big_endian ? " MM" : " II"));
      const std::string jpeg = WithSegmentAfterSoi(plain, ExifSegment(orientation, big_endian));
      auto decoded = DecodeImageFile(Write("exif.jpg", jpeg));
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      const cv::Mat reference =
          cv::imdecode(std::vector<uchar>(jpeg.begin(), jpeg.end()), cv::IMREAD_COLOR);
      const RgbImage expected = FromBgr(reference);
      EXPECT_EQ(decoded->image.width, expected.width);
      EXPECT_EQ(decoded->image.height, expected.height);
      EXPECT_EQ(decoded->image.width, orientation >= 5 ? 16 : 24);
      EXPECT_EQ(decoded->image.rgb, expected.rgb);
      EXPECT_EQ(decoded->exif_rotated, orientation != 1);
      if (orientation != 1) {
        EXPECT_NE(decoded->note.find("EXIF orientation " + std::to_string(orientation)),
                  std::string::npos);
      }
    }
  }
  // Orientation 6 (rotate 90 clockwise): the top-left (green) quadrant ends top-right.
  auto rotated = DecodeImageBytes(WithSegmentAfterSoi(plain, ExifSegment(6, false)));
  ASSERT_TRUE(rotated.ok());
  const uint8_t* top_right = Pixel(rotated->image, 15, 0);
  EXPECT_GT(top_right[1], 200);
  EXPECT_LT(top_right[0], 50);

  DecodeOptions keep;
  keep.apply_exif_orientation = false;
  auto stored = DecodeImageBytes(WithSegmentAfterSoi(plain, ExifSegment(6, false)), keep);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->image.width, 24);
  EXPECT_FALSE(stored->exif_rotated);
}

TEST_F(ImageDecodeTest, MalformedExifIsIgnored) {
  const std::string plain = Encode(".jpg", Quadrants(24, 16));
  std::string segment = ExifSegment(6, false);
  segment[10 + 4] = 0x7F;  // IFD0 offset far outside the segment
  auto decoded = DecodeImageBytes(WithSegmentAfterSoi(plain, segment));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_FALSE(decoded->exif_rotated);
  EXPECT_EQ(decoded->image.width, 24);
}

TEST_F(ImageDecodeTest, HugeImagesAreDownscaledWithInterArea) {
  cv::Mat wide(40, 5000, CV_8UC3);
  for (int x = 0; x < wide.cols; ++x) wide.col(x).setTo(cv::Scalar(x % 256, 128, 255 - x % 256));
  auto decoded = DecodeImageFile(Write("wide.png", Encode(".png", wide)));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(decoded->downscaled);
  EXPECT_EQ(decoded->original_width, 5000);
  EXPECT_EQ(decoded->original_height, 40);
  EXPECT_EQ(decoded->image.width, 4096);
  EXPECT_EQ(decoded->image.height, 33);  // round(40 * 4096 / 5000)
  EXPECT_NE(decoded->note.find("downscaled from 5000x40 to 4096x33"), std::string::npos)
      << decoded->note;
  cv::Mat area;
  cv::resize(wide, area, cv::Size(4096, 33), 0, 0, cv::INTER_AREA);
  EXPECT_EQ(decoded->image.rgb, FromBgr(area).rgb);

  DecodeOptions small;
  small.max_side = 64;
  auto quad = DecodeImageBytes(Encode(".jpg", Quadrants(200, 100)), small);
  ASSERT_TRUE(quad.ok());
  EXPECT_EQ(quad->image.width, 64);
  EXPECT_EQ(quad->image.height, 32);
  EXPECT_TRUE(quad->downscaled);
}

TEST_F(ImageDecodeTest, TooManyPixelsOrBytesAreRefused) {
  DecodeOptions strict;
  strict.max_pixels = 1000;
  for (const char* ext : {".png", ".jpg", ".bmp"}) {
    SCOPED_TRACE(ext);
    auto decoded = DecodeImageBytes(Encode(ext, Quadrants(200, 100)), strict);
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.status().message().find("too large"), std::string::npos)
        << decoded.status().ToString();
  }
  DecodeOptions tiny_files;
  tiny_files.max_file_bytes = 10;
  EXPECT_FALSE(DecodeImageFile(Write("q.png", Encode(".png", Quadrants(20, 10))), tiny_files).ok());
}

TEST_F(ImageDecodeTest, TinyAndOtherFormatsDecode) {
  auto tiny = DecodeImageBytes(Encode(".png", Quadrants(8, 6)));
  ASSERT_TRUE(tiny.ok()) << tiny.status().ToString();
  EXPECT_EQ(tiny->image.width, 8);
  EXPECT_EQ(tiny->image.height, 6);
  EXPECT_EQ(tiny->image.rgb, FromBgr(Quadrants(8, 6)).rgb);

  auto bmp = DecodeImageFile(Write("q.bmp", Encode(".bmp", Quadrants(20, 10))));
  ASSERT_TRUE(bmp.ok()) << bmp.status().ToString();
  EXPECT_EQ(bmp->format, "other");
  EXPECT_EQ(bmp->image.rgb, FromBgr(Quadrants(20, 10)).rgb);
}

}  // namespace
}  // namespace farm::faceid
