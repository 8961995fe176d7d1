// Face ID from the command line, run as a user runs it: farm-agent faces detect|compare on
// the face-api demo photos, farmctl identity add|list|show and farmctl score --render,
// with the rows checked through the store. Skips without the models and demo photos
// ($STUDIOFARM_MODELS/face-api). Single-face photos are cut from sample1.jpg here (every
// demo photo shows several people); sample2.jpg is the multi-face photo.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "faceid_paths.h"
#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "shell_run.h"

namespace {

namespace fs = std::filesystem;
using farmctl_test::CliRun;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kFarmctl = FARMCTL_PATH;
const std::string kAgent = FARM_AGENT_PATH;

using farmctl_test::Quote;
using farmctl_test::ParseOrFail;

class FarmctlFacesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto models = farm::faceid::testing::FindFaceModelDir();
    auto demo = farm::faceid::testing::FindFaceDemoDir();
    if (!models || !demo || !fs::exists(*demo + "/sample1.jpg") || !fs::exists(*demo + "/sample2.jpg")) {
      GTEST_SKIP() << "face-api models or demo photos not found (set STUDIOFARM_MODELS)";
    }
    models_ = *models;
    demo_ = *demo;
    std::string pattern = ::testing::TempDir() + "farmctl_faces_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ + "/farm.db";

    // One person: sample1's face 0 (box about x 414, y 355, 178x238; face 1 starts at
    // x 838), cut with a margin, and the same cut at 80 % size as a second photo.
    const cv::Mat photo = cv::imread(demo_ + "/sample1.jpg", cv::IMREAD_COLOR);
    ASSERT_FALSE(photo.empty());
    const cv::Mat face = photo(cv::Rect(300, 230, 400, 490)).clone();
    ASSERT_TRUE(cv::imwrite(dir_ + "/ana1.png", face));
    cv::Mat smaller;
    cv::resize(face, smaller, cv::Size(320, 392), 0, 0, cv::INTER_AREA);
    ASSERT_TRUE(cv::imwrite(dir_ + "/ana2.png", smaller));
    // No face at all.
    ASSERT_TRUE(cv::imwrite(dir_ + "/plain.png", cv::Mat(96, 96, CV_8UC3, cv::Scalar(128, 128, 128))));
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  // farmctl with the test's database and models.
  CliRun Farmctl(const std::string& args) {
    return Shell(kFarmctl + " --db " + Quote(db_) + " --models-dir " + Quote(models_) + " " + args);
  }
  std::string Demo(const std::string& name) const { return Quote(demo_ + "/" + name); }

  std::unique_ptr<farm::store::Store> OpenStore() {
    auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadWrite);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // A render row to attach scores to (the farm's renders come from sweeps).
  std::int64_t MakeRender(int seed) {
    auto store = OpenStore();
    if (!store) return 0;
    farm::RenderParams p;
    p.prompt = "studio portrait of sks person";
    p.seed = static_cast<std::uint64_t>(seed);
    p.sampler = "Euler";
    p.scheduler = "normal";
    p.steps = 20;
    p.cfg = 7;
    p.clip_skip = 2;
    p.checkpoint_sha256 = farm::Sha256Hex("checkpoint");
    farm::store::NewRender row;
    row.params = p;
    auto inserted = store->InsertRenders({row});
    EXPECT_TRUE(inserted.ok()) << inserted.status().ToString();
    return inserted.ok() ? (*inserted)[0].id : 0;
  }

  std::string models_, demo_, dir_, db_;
};

TEST_F(FarmctlFacesTest, AgentDetectFindsTheReferenceFaceCounts) {
  auto reference = farm::faceid::testing::FindFaceidReferenceDir();
  if (!reference) GTEST_SKIP() << "faceid reference data not found";
  for (const char* sample : {"sample1", "sample2", "sample3"}) {
    std::ifstream in(*reference + "/" + sample + ".json");
    const json expected = json::parse(in);
    auto run = Shell(kAgent + " faces detect " + Demo(std::string(sample) + ".jpg") +
                     " --json --models-dir " + Quote(models_));
    ASSERT_EQ(run.exit_code, 0) << run.out;
    const json found = ParseOrFail(run);
    EXPECT_EQ(found["num_faces"], expected["num_faces"]) << sample;
    ASSERT_EQ(found["faces"].size(), found["num_faces"].get<size_t>());
    EXPECT_EQ(found["faces"][0]["landmarks"].size(), 68u);
    EXPECT_FALSE(found["model_version"].get<std::string>().empty());
  }
}

TEST_F(FarmctlFacesTest, CompareAPhotoWithItselfIsDistanceZero) {
  auto self = Shell(kAgent + " faces compare " + Quote(dir_ + "/ana1.png") + " " +
                    Quote(dir_ + "/ana1.png") + " --json --models-dir " + Quote(models_));
  ASSERT_EQ(self.exit_code, 0) << self.out;
  const json same = ParseOrFail(self);
  EXPECT_EQ(same["euclidean"].get<double>(), 0.0);
  EXPECT_NEAR(same["cosine"].get<double>(), 1.0, 1e-12);
  EXPECT_TRUE(same["same_person"].get<bool>());

  // Through farmctl (output passed through), the same face at another size is still her.
  auto resized = Farmctl("faces compare " + Quote(dir_ + "/ana1.png") + " " + Quote(dir_ + "/ana2.png") +
                         " --json");
  ASSERT_EQ(resized.exit_code, 0) << resized.out;
  const json pair = ParseOrFail(resized);
  EXPECT_GT(pair["euclidean"].get<double>(), 0.0);
  EXPECT_TRUE(pair["same_person"].get<bool>()) << pair.dump();
  std::printf("ana1.png vs ana2.png (80 %% size): euclidean %.4f, cosine %.4f\n",
              pair["euclidean"].get<double>(), pair["cosine"].get<double>());

  // No face in one of them: a failure with the reason, exit 1.
  auto none = Farmctl("faces compare " + Quote(dir_ + "/ana1.png") + " " + Quote(dir_ + "/plain.png") +
                      " 2>&1");
  EXPECT_EQ(none.exit_code, 1) << none.out;
  EXPECT_NE(none.out.find("no face found"), std::string::npos) << none.out;
}

TEST_F(FarmctlFacesTest, IdentityAddShowAndScoreIntoTheScoresTable) {
  // A photo with several people is refused, by name, and nothing is stored ...
  auto refused = Farmctl("identity add group " + Demo("sample2.jpg") + " " + Quote(dir_ + "/ana1.png") +
                         " --json");
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  const json rejected = ParseOrFail(refused);
  ASSERT_EQ(rejected["rejected"].size(), 1u) << refused.out;
  EXPECT_NE(rejected["rejected"][0]["photo"].get<std::string>().find("sample2.jpg"), std::string::npos);
  EXPECT_NE(rejected["rejected"][0]["problem"].get<std::string>().find("3 faces"), std::string::npos);
  EXPECT_EQ(Farmctl("identity show group 2>&1").exit_code, 1);

  // ... unless --pick largest, which keeps the largest face and stores all of them.
  auto picked = Farmctl("identity add group " + Demo("sample2.jpg") + " --pick largest --json");
  ASSERT_EQ(picked.exit_code, 0) << picked.out;
  auto group = Farmctl("identity show group --json");
  ASSERT_EQ(group.exit_code, 0) << group.out;
  const json shown_group = ParseOrFail(group);
  ASSERT_EQ(shown_group["photos"].size(), 1u);
  EXPECT_EQ(shown_group["photos"][0]["face_count"], 3);
  ASSERT_EQ(shown_group["photos"][0]["faces"].size(), 3u);
  int used = 0;
  for (const json& face : shown_group["photos"][0]["faces"]) used += face["used"].get<bool>() ? 1 : 0;
  EXPECT_EQ(used, 1);

  // One face per photo: accepted; the name is then taken.
  auto added = Farmctl("identity add ana " + Quote(dir_ + "/ana1.png") + " " + Quote(dir_ + "/ana2.png"));
  ASSERT_EQ(added.exit_code, 0) << added.out;
  auto again = Farmctl("identity add ana " + Quote(dir_ + "/ana1.png") + " 2>&1");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.out.find("exists"), std::string::npos) << again.out;

  auto show = Farmctl("identity show ana --json");
  ASSERT_EQ(show.exit_code, 0) << show.out;
  const json ana = ParseOrFail(show);
  const std::string model = ana["descriptor_model"].get<std::string>();
  EXPECT_EQ(model.rfind("face-api-1.7.15/face_recognition_model@", 0), 0u) << model;
  ASSERT_EQ(ana["photos"].size(), 2u);
  for (const json& photo : ana["photos"]) {
    EXPECT_EQ(photo["face_count"], 1);
    EXPECT_EQ(photo["descriptor"].size(), 128u);
    EXPECT_EQ(photo["sha256"], *farm::Sha256File(photo["path"].get<std::string>()));
  }
  // face-api descriptors are not normalised: norms of about 1.4-1.5.
  EXPECT_GT(ana["mean_descriptor_norm"].get<double>(), 1.2);
  EXPECT_LT(ana["mean_descriptor_norm"].get<double>(), 1.7);
  auto list = Farmctl("identity list --json");
  ASSERT_EQ(list.exit_code, 0) << list.out;
  EXPECT_EQ(ParseOrFail(list)["identities"].size(), 2u);

  // sample1.jpg shows her (face 0) among others: her face is the best one, and the two
  // rows land in the scores table for the render.
  const std::int64_t render = MakeRender(1);
  ASSERT_GT(render, 0);
  auto scored = Farmctl("score " + Demo("sample1.jpg") + " --identity ana --render " +
                        std::to_string(render) + " --json");
  ASSERT_EQ(scored.exit_code, 0) << scored.out;
  const json score = ParseOrFail(scored);
  EXPECT_EQ(score["faces_found"], 3);
  EXPECT_EQ(score["cosine"]["best_face"], 0);
  EXPECT_EQ(score["euclidean"]["best_face"], 0);
  // Different people score 0.85-0.94 cosine on the reference photos; the same face far more.
  EXPECT_GT(score["cosine"]["similarity"].get<double>(), 0.97);
  EXPECT_LT(score["euclidean"]["similarity"].get<double>(), 0.6);
  EXPECT_TRUE(score["same_person"].get<bool>());
  std::printf("sample1.jpg vs ana (2 cut-outs of its face 0): cosine %.4f, euclidean %.4f\n",
              score["cosine"]["similarity"].get<double>(), score["euclidean"]["similarity"].get<double>());
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto rows = store->ListScores(render);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    ASSERT_EQ(rows->size(), 2u);
    for (const auto& row : *rows) {
      EXPECT_EQ(row.model_version, model);
      EXPECT_EQ(row.faces_found, 3);
      ASSERT_TRUE(row.similarity.has_value());
      EXPECT_DOUBLE_EQ(*row.similarity, score[row.metric]["similarity"].get<double>()) << row.metric;
    }
  }

  // A render without a face: both rows with similarity NULL and the reason.
  const std::int64_t faceless = MakeRender(2);
  auto blank = Farmctl("score " + Quote(dir_ + "/plain.png") + " --identity ana --render " +
                       std::to_string(faceless));
  ASSERT_EQ(blank.exit_code, 0) << blank.out;
  EXPECT_NE(blank.out.find("no face found"), std::string::npos) << blank.out;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto rows = store->ListScores(faceless);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 2u);
    for (const auto& row : *rows) {
      EXPECT_FALSE(row.similarity.has_value()) << row.metric;
      EXPECT_EQ(row.faces_found, 0);
      EXPECT_EQ(row.reason, "no face found");
    }
  }

  // Descriptors of another model version are refused, naming both versions.
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    farm::store::NewIdentity old;
    old.name = "old";
    old.instance_token = "sks person";
    old.photos.push_back({farm::Sha256Hex("old photo"), "/photos/old.jpg", 1,
                          std::vector<float>(128, 0.1f), "face-api-0.0.0/face_recognition_model@0123456789ab",
                          ""});
    ASSERT_TRUE(store->CreateIdentity(old).ok());
  }
  auto mismatch = Farmctl("score " + Quote(dir_ + "/plain.png") + " --identity old 2>&1");
  EXPECT_EQ(mismatch.exit_code, 1) << mismatch.out;
  EXPECT_NE(mismatch.out.find("0123456789ab"), std::string::npos) << mismatch.out;
  EXPECT_NE(mismatch.out.find(model), std::string::npos) << mismatch.out;
}

TEST_F(FarmctlFacesTest, UsageAndMissingThingsAreClearErrors) {
  EXPECT_EQ(Farmctl("identity add ana 2>&1").exit_code, 2);
  EXPECT_EQ(Farmctl("identity add ana x.png --pick smallest 2>&1").exit_code, 2);
  EXPECT_EQ(Farmctl("faces detect 2>&1").exit_code, 2);
  EXPECT_EQ(Shell(kAgent + " faces detect 2>&1").exit_code, 2);
  EXPECT_EQ(Farmctl("score x.png 2>&1").exit_code, 2);  // --identity is required

  auto missing_photo = Farmctl("identity add ana " + Quote(dir_ + "/nope.jpg") + " 2>&1");
  EXPECT_EQ(missing_photo.exit_code, 1);
  EXPECT_NE(missing_photo.out.find("nope.jpg"), std::string::npos) << missing_photo.out;

  auto no_agent = Farmctl("faces detect " + Demo("sample1.jpg") + " --agent " +
                          Quote(dir_ + "/no-such-agent") + " 2>&1");
  EXPECT_EQ(no_agent.exit_code, 1);
  EXPECT_NE(no_agent.out.find("no-such-agent"), std::string::npos) << no_agent.out;

  auto no_models = Shell(kAgent + " faces detect " + Demo("sample1.jpg") + " --models-dir " +
                         Quote(dir_) + " 2>&1");
  EXPECT_EQ(no_models.exit_code, 1);
  EXPECT_NE(no_models.out.find("face-api models not found"), std::string::npos) << no_models.out;

  ASSERT_GT(MakeRender(3), 0);  // creates the database
  auto unknown = Farmctl("score " + Quote(dir_ + "/plain.png") + " --identity nobody 2>&1");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.out.find("nobody"), std::string::npos) << unknown.out;
}

}  // namespace
