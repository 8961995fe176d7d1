// human's image preprocessing from the photo: the decoded pixels hash to the reference's
// libjpeg-turbo hash first; then MoveNet's input, the hand detector's input and every
// hand-landmark crop (default and variant runs) equal the reference tensors exactly.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "farm/faceid/image_decode.h"
#include "farm/pose/hand_decode.h"
#include "farm/pose/human_image.h"
#include "human_reference.h"

namespace farm::pose {
namespace {

using testing::ReadJson;
using testing::ReferenceSamples;
using testing::ReferenceTensors;
using testing::Sha256Hex;

std::string Int32Sha(const std::vector<int32_t>& values) {
  return Sha256Hex(values.data(), values.size() * sizeof(int32_t));  // little-endian host
}

TEST(HumanPreprocess, PhotoInputsEqualTheReferenceTensors) {
  FARM_POSE_REQUIRE_REFERENCE(dir);
  const auto photos = testing::FindDemoPhotoDir();
  if (!photos) GTEST_SKIP() << "face-api demo photos not found (set STUDIOFARM_MODELS)";
  int checked = 0;
  for (const std::string& sample : ReferenceSamples(dir)) {
    const nlohmann::json reference = ReadJson(dir + "/" + sample + ".json");
    const std::string photo = *photos + "/" + reference.at("image").at("file").get<std::string>();
    if (!std::filesystem::exists(photo)) continue;  // reported below when none is present
    SCOPED_TRACE(sample);
    auto decoded = faceid::DecodeImageFile(photo);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    const faceid::RgbImage& image = decoded->image;
    ASSERT_EQ(Sha256Hex(image.rgb.data(), image.rgb.size()), reference.at("decoded_rgb_sha256").get<std::string>())
        << photo << " does not decode to the reference's libjpeg-turbo pixels";
    const RgbView view{image.rgb.data(), image.width, image.height};
    const ReferenceTensors tensors(dir + "/" + sample + ".safetensors");

    const std::vector<int32_t> movenet = MoveNetInput(view);
    EXPECT_EQ(movenet, tensors.Ints("movenet.input"));
    EXPECT_EQ(Int32Sha(movenet), reference.at("movenet").at("input").at("sha256_int32_le").get<std::string>());

    const InputSize size = HandDetectorInputSize(image.width, image.height);
    const auto& shape = reference.at("hand").at("detector").at("input").at("shape");
    EXPECT_EQ(size.height, shape[1].get<int>());
    EXPECT_EQ(size.width, shape[2].get<int>());
    const std::vector<int32_t> detector = HandDetectorInput(view);
    EXPECT_EQ(detector, tensors.Ints("handdet.input"));
    EXPECT_EQ(Int32Sha(detector),
              reference.at("hand").at("detector").at("input").at("sha256_int32_le").get<std::string>());

    // Landmark crops of every hand of both runs, from the crop box the decoded detections give.
    for (const char* run : {"hand", "hand_variant"}) {
      for (const nlohmann::json& hand : reference.at(run).at("hands")) {
        const auto& net = hand.at("landmark_net");
        const auto box = net.at("crop_box_y1x1y2x2_float32").get<std::array<float, 4>>();
        const std::vector<float> crop = HandLandmarkInput(view, box);
        EXPECT_EQ(Sha256Hex(crop.data(), crop.size() * sizeof(float)), net.at("input_sha256_f32").get<std::string>())
            << run << " hand " << hand.at("id");
        if (net.at("input_tensor").is_string()) {
          EXPECT_EQ(crop, tensors.Floats(net.at("input_tensor").get<std::string>())) << run;
        }
      }
    }
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "none of the reference photos is in " << *photos;
}

TEST(HumanPreprocess, MoveNetPaddingIsTruncatedAndMayLeaveTheImageShort) {
  const MoveNetPadding landscape = MoveNetPaddingFor(1920, 1367);
  EXPECT_EQ(landscape.top, 276);
  EXPECT_EQ(landscape.bottom, 276);  // 1367 + 552 = 1919: one row short of square
  const MoveNetPadding portrait = MoveNetPaddingFor(10, 15);
  EXPECT_EQ(portrait.left, 2);
  EXPECT_EQ(portrait.right, 2);
  EXPECT_EQ(portrait.top, 0);
}

TEST(HumanPreprocess, PaddingRowsInterpolateAsZero) {
  // A 4x2 white image pads 1 black row above and below: 4x4, resized to 2x2 samples rows
  // 0 and 2 (ratio 2), i.e. the padding row and a white row.
  const std::vector<uint8_t> white(4 * 2 * 3, 255);
  const auto input = MoveNetInput({white.data(), 4, 2}, 2);
  ASSERT_EQ(input.size(), 12u);
  EXPECT_EQ(input[0], 0);
  EXPECT_EQ(input[6], 255);
}

TEST(HumanPreprocess, ResizeTruncatesTowardZero) {
  // Values 0 and 255 side by side, resized 2 -> 4 wide: 0, 127.5, 255, 255 -> 0, 127, 255, 255.
  const std::vector<float> row = {0, 255};
  const auto resized = ResizeBilinear(row, 1, 2, 1, 1, 4);
  EXPECT_EQ(resized, (std::vector<float>{0, 127.5f, 255, 255}));
  std::vector<uint8_t> rgb = {0, 0, 0, 255, 255, 255};
  const std::vector<int32_t> detector = HandDetectorInput({rgb.data(), 2, 1});
  EXPECT_TRUE(detector.empty());  // round(1/8)*8 = 0 rows: nothing to run the detector on
}

TEST(HumanPreprocess, HandDetectorInputSize) {
  EXPECT_EQ(HandDetectorInputSize(1920, 1280).height, 512);
  EXPECT_EQ(HandDetectorInputSize(1920, 1280).width, 768);
  EXPECT_EQ(HandDetectorInputSize(1920, 1367).width, 720);
  EXPECT_EQ(HandDetectorInputSize(100, 60).height, 64);  // round(7.5) * 8
  EXPECT_EQ(HandDetectorInputSize(100, 60).width, 104);  // round(64 * 100/60 / 8) * 8
}

TEST(HumanPreprocess, CropOutsideThePhotoIsZero) {
  const std::vector<uint8_t> white(8 * 8 * 3, 255);
  const auto crop = HandLandmarkInput({white.data(), 8, 8}, {-1.0f, -1.0f, 0.5f, 0.5f}, 4);
  // Rows/columns mapping below 0 are black; the last sample lies inside and is white (1.0).
  EXPECT_EQ(crop[0], 0.0f);
  EXPECT_EQ(crop.back(), 1.0f);
}

}  // namespace
}  // namespace farm::pose
