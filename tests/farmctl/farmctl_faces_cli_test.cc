// The README's face commands on the face-api demo photos, as a user runs them:
// `farmctl faces detect --draw` writes the photo with every face drawn on it, and two
// different people are not the same person for `faces compare` and `score`. The models
// and photos come with set-up: without them the tests fail and say so.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "faceid_paths.h"
#include "shell_run.h"

namespace {

namespace fs = std::filesystem;
using farmctl_test::CliRun;
using farmctl_test::ParseOrFail;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

class FarmctlFacesCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto models = farm::faceid::testing::FindFaceModelDir();
    auto demo = farm::faceid::testing::FindFaceDemoDir();
    ASSERT_TRUE(models && demo && fs::exists(*demo + "/sample1.jpg") &&
                fs::exists(*demo + "/sample3.jpg"))
        << "face-api models and demo photos are missing: tools/setup.sh fetches them into "
           "$STUDIOFARM_MODELS/face-api (default ~/.cache/studiofarm/models/face-api)";
    models_ = *models;
    demo_ = *demo;
    std::string pattern = ::testing::TempDir() + "farmctl_faces_cli_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_, ignored);
  }

  CliRun Farmctl(const std::string& args) {
    return Shell(std::string(FARMCTL_PATH) + " --db " + Quote(dir_ + "/farm.db") + " --models-dir " +
                 Quote(models_) + " " + args);
  }
  std::string Demo(const std::string& name) const { return demo_ + "/" + name; }

  // One face cut from a demo photo with a margin (every demo photo shows several people).
  std::string CutFace(const std::string& sample, const cv::Rect& rect, const std::string& name) {
    const cv::Mat photo = cv::imread(Demo(sample), cv::IMREAD_COLOR);
    EXPECT_FALSE(photo.empty()) << Demo(sample);
    if (photo.empty()) return "";
    const std::string path = dir_ + "/" + name;
    EXPECT_TRUE(cv::imwrite(path, photo(rect).clone())) << path;
    return path;
  }

  std::string models_, demo_, dir_;
};

TEST_F(FarmctlFacesCliTest, DetectDrawWritesThePhotoWithEveryFaceBoxed) {
  const std::string drawn = dir_ + "/faces.png";
  CliRun run = Farmctl("faces detect " + Quote(Demo("sample1.jpg")) + " --draw " + Quote(drawn) +
                       " --json");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const json found = ParseOrFail(run);
  ASSERT_EQ(found["num_faces"], 3) << run.out;
  EXPECT_EQ(found["drawn"], drawn);

  const cv::Mat photo = cv::imread(Demo("sample1.jpg"), cv::IMREAD_COLOR);
  const cv::Mat image = cv::imread(drawn, cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty()) << drawn << " is not an image";
  ASSERT_EQ(image.size(), photo.size());
  // Each face's box: its top edge is drawn in the box colour (BGR 0, 220, 0) ...
  for (const json& face : found["faces"]) {
    const int x = static_cast<int>(face["box"]["x"].get<double>());
    const int y = static_cast<int>(face["box"]["y"].get<double>());
    const int width = static_cast<int>(face["box"]["width"].get<double>());
    int green = 0;
    for (int i = width / 4; i < 3 * width / 4; ++i) {
      const cv::Vec3b p = image.at<cv::Vec3b>(y, x + i);
      green += p == cv::Vec3b(0, 220, 0) ? 1 : 0;
    }
    EXPECT_GT(green, width / 2 * 9 / 10) << "box of face " << face["index"] << " not drawn";
  }
  // ... and away from the faces the photo is unchanged (up to JPEG decoders' rounding).
  cv::Mat difference;
  cv::absdiff(image(cv::Rect(0, 900, 1920, 380)), photo(cv::Rect(0, 900, 1920, 380)), difference);
  double max_difference = 0;
  cv::minMaxLoc(difference.reshape(1), nullptr, &max_difference);
  EXPECT_LE(max_difference, 40) << "the lower part of the photo has no face but changed";
  EXPECT_LT(cv::mean(difference)[0], 1.0);

  CliRun plain = Farmctl("faces detect " + Quote(Demo("sample1.jpg")) + " --draw " + Quote(drawn));
  EXPECT_EQ(plain.exit_code, 0) << plain.out;
  EXPECT_NE(plain.out.find("drew the faces on " + drawn), std::string::npos) << plain.out;
}

TEST_F(FarmctlFacesCliTest, TwoDifferentPeopleAreNotTheSamePerson) {
  // sample1's face 0 and sample3's face 0: 0.78 apart in the reference (distances.json),
  // far from face-api's 0.6 threshold whatever the JPEG decoder.
  const std::string ana = CutFace("sample1.jpg", cv::Rect(300, 230, 400, 490), "ana.png");
  const std::string ben = CutFace("sample3.jpg", cv::Rect(470, 200, 430, 540), "ben.png");
  ASSERT_FALSE(ana.empty() || ben.empty());

  CliRun compared = Farmctl("faces compare " + Quote(ana) + " " + Quote(ben) + " --json");
  ASSERT_EQ(compared.exit_code, 0) << compared.out;
  const json pair = ParseOrFail(compared);
  EXPECT_EQ(pair["a"]["num_faces"], 1) << compared.out;
  EXPECT_EQ(pair["b"]["num_faces"], 1) << compared.out;
  EXPECT_GT(pair["euclidean"].get<double>(), 0.68) << compared.out;
  EXPECT_LT(pair["cosine"].get<double>(), 0.9) << compared.out;
  EXPECT_FALSE(pair["same_person"].get<bool>()) << compared.out;
  CliRun plain = Farmctl("faces compare " + Quote(ana) + " " + Quote(ben));
  ASSERT_EQ(plain.exit_code, 0) << plain.out;
  EXPECT_NE(plain.out.find("different people"), std::string::npos) << plain.out;
  std::printf("sample1#0 vs sample3#0 cut-outs: euclidean %.4f, cosine %.4f\n",
              pair["euclidean"].get<double>(), pair["cosine"].get<double>());

  // Scored against her identity, his photo is not her.
  CliRun added = Farmctl("identity add ana " + Quote(ana) + " 2>&1");
  ASSERT_EQ(added.exit_code, 0) << added.out;
  CliRun scored = Farmctl("score " + Quote(ben) + " --identity ana --json");
  ASSERT_EQ(scored.exit_code, 0) << scored.out;
  const json score = ParseOrFail(scored);
  EXPECT_EQ(score["faces_found"], 1);
  EXPECT_NEAR(score["euclidean"]["similarity"].get<double>(), pair["euclidean"].get<double>(), 1e-9);
  EXPECT_FALSE(score["same_person"].get<bool>()) << scored.out;
}

}  // namespace
