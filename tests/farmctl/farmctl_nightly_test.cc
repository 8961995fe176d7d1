// farmctl nightly judging evaluation sweeps against their baseline: renders whose score is
// a deterministic function of the parameters, evaluated again with the same pixels (pass),
// then with a regression injected into one pose and changed pixels (fail). Checks the
// exit codes, the verdicts, the pixel drift, the per-pose numbers and that last-good moves
// only on a pass and that no evaluation overwrites another.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "shell_run.h"

namespace {

namespace fs = std::filesystem;
using farmctl_test::CliRun;
using farmctl_test::ParseOrFail;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kFarmctl = FARMCTL_PATH;
const std::vector<std::string> kPoses = {"front", "profile", "seated"};
constexpr int kSeeds = 6;

// The synthetic face-ID score of a render: a fixed function of its parameters.
double ScoreOf(const farm::RenderParams& p) {
  const double pose = p.pose == "front" ? 0.70 : p.pose == "profile" ? 0.55 : 0.62;
  return pose + 0.01 * static_cast<double>(p.seed % 3) - 0.005 * (p.cfg - 6);
}

class FarmctlNightlyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "farmctl_nightly_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ + "/farm.db";
    spec_ = dir_ + "/eval.yaml";
    std::ofstream(spec_) << "name: eval\n"
                            "identity: {name: ana, photos: a.jpg, token: sks person}\n"
                            "checkpoint: {sha256: " << std::string(64, 'c') << "}\n"
                            "render: {prompt: 'photo of {token}', sampler: Euler, seeds: [1, 2]}\n"
                            "nightly:\n"
                            "  max_mean_drop: 0.01\n"
                            "  pass_if_ci_includes_zero: false\n"
                            "  max_face_rate_drop: 0.05\n"
                            "  max_pose_success_drop: 0.2\n"
                            "  success_threshold: 0.6\n";
    std::ofstream(dir_ + "/a.jpg") << "a photo";
    auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadWrite);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    auto identity = store_->CreateIdentity({"ana", "sks person", {}});
    ASSERT_TRUE(identity.ok());
    identity_ = *identity;
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  // One evaluation sweep of every (pose, seed); `rerender` as a nightly run asks.
  // `shift(pose)` is added to the score; `new_pixels(pose)` gives those renders other bytes.
  std::int64_t Evaluate(bool rerender, double (*shift)(const std::string&),
                        bool (*new_pixels)(const std::string&)) {
    farm::store::NewSweep sweep;
    sweep.name = "eval";
    sweep.spec_yaml = "name: eval\n";
    std::vector<farm::RenderParams> params;
    for (const std::string& pose : kPoses) {
      for (int seed = 1; seed <= kSeeds; ++seed) {
        farm::RenderParams p;
        p.prompt = "photo of sks person";
        p.seed = static_cast<std::uint64_t>(seed);
        p.sampler = "Euler";
        p.scheduler = "normal";
        p.cfg = 6 + seed % 2;
        p.pose = pose;
        p.checkpoint_sha256 = std::string(64, 'c');
        farm::store::NewJob render;
        render.kind = farm::store::JobKind::kRender;
        render.render = p;
        render.rerender = rerender;
        sweep.jobs.push_back(render);
        farm::store::NewJob score;
        score.kind = farm::store::JobKind::kScore;
        score.params_json = "{\"n\":" + std::to_string(sweep.jobs.size()) + ",\"sweep\":" +
                            std::to_string(++sweeps_) + "}";
        score.param_hash = farm::Sha256Hex(score.params_json);
        score.deps = {sweep.jobs.size() - 1};
        sweep.jobs.push_back(score);
        params.push_back(p);
      }
    }
    auto created = store_->CreateSweep(sweep);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    for (std::size_t i = 0; i < params.size(); ++i) {
      const std::int64_t render_job = created->jobs.job_ids[2 * i];
      const std::int64_t score_job = created->jobs.job_ids[2 * i + 1];
      const std::string bytes = "png of " + std::to_string(params[i].seed) + params[i].pose +
                                (new_pixels(params[i].pose) ? " drawn differently" : "");
      farm::store::NewArtifact artifact{farm::Sha256Hex(bytes), static_cast<std::int64_t>(bytes.size()),
                                        "a/" + farm::Sha256Hex(bytes), "image/png"};
      auto artifact_id = store_->InsertArtifact(artifact);
      EXPECT_TRUE(artifact_id.ok());
      farm::store::RenderResultUpdate result;
      result.job_id = render_job;
      result.artifact_id = *artifact_id;
      result.image_sha256 = artifact.sha256;
      result.agent_version = rerender ? "0.2" : "0.1";
      EXPECT_TRUE(store_->RecordRenderResult(result).ok());
      farm::store::NewScore score;
      score.render_id = created->jobs.render_ids[2 * i];
      score.identity_id = identity_;
      score.job_id = score_job;
      score.metric = "cosine";
      score.model_version = "face-model-1";
      score.similarity = ScoreOf(params[i]) + shift(params[i].pose);
      score.faces_found = 1;
      EXPECT_TRUE(store_->InsertScores({score}).ok());
    }
    return created->sweep_id;
  }

  CliRun Nightly(std::int64_t sweep, const std::string& extra = "") {
    return Shell(kFarmctl + " nightly " + Quote(spec_) + " --sweep " + std::to_string(sweep) +
                 " --db " + Quote(db_) + " --json " + extra);
  }

  std::string dir_, db_, spec_;
  std::unique_ptr<farm::store::Store> store_;
  std::int64_t identity_ = 0;
  int sweeps_ = 0;
};

double NoShift(const std::string&) { return 0; }
double ProfileRegresses(const std::string& pose) { return pose == "profile" ? -0.08 : 0; }
bool SamePixels(const std::string&) { return false; }
bool ProfileRedrawn(const std::string& pose) { return pose == "profile"; }

TEST_F(FarmctlNightlyTest, FirstRunPassThenRegressionFails) {
  const std::int64_t first = Evaluate(false, NoShift, SamePixels);
  CliRun run = Nightly(first);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  json out = ParseOrFail(run);
  EXPECT_EQ(out["verdict"], "first");
  EXPECT_TRUE(out["baseline_sweep_id"].is_null());

  // The same renders again, same pixels and scores: within every limit.
  const std::int64_t same = Evaluate(true, NoShift, SamePixels);
  run = Nightly(same);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  out = ParseOrFail(run);
  EXPECT_EQ(out["verdict"], "pass");
  EXPECT_EQ(out["baseline_sweep_id"], first);
  const json& evaluation = out["evaluation"];
  EXPECT_EQ(evaluation["pixels"]["compared"], kPoses.size() * kSeeds);
  EXPECT_EQ(evaluation["pixels"]["changed"], 0);
  EXPECT_EQ(evaluation["score"]["paired"]["pairs"], kPoses.size() * kSeeds);
  EXPECT_NEAR(evaluation["score"]["paired"]["delta"].get<double>(), 0.0, 1e-12);

  // Profile regresses by 0.08 and is drawn differently: mean drop 0.08/3, profile success
  // (score >= 0.6) falls from 2/6... see below; the gate fails and says why.
  const std::int64_t worse = Evaluate(true, ProfileRegresses, ProfileRedrawn);
  run = Nightly(worse);
  ASSERT_EQ(run.exit_code, 1) << run.out;
  out = ParseOrFail(run);
  EXPECT_EQ(out["verdict"], "fail");
  EXPECT_EQ(out["baseline_sweep_id"], same);  // last-good, not the first run
  const json& bad = out["evaluation"];
  EXPECT_EQ(bad["pixels"]["changed"], kSeeds);  // the profile renders
  const json& change = bad["pixels"]["changes"][0];
  EXPECT_EQ(change["baseline_agent_version"], "0.2");
  EXPECT_EQ(change["run_engine"], farm::kEngineVersion);
  EXPECT_NEAR(bad["score"]["paired"]["delta"].get<double>(), -0.08 / 3, 1e-9);
  bool mean_failed = false, profile_failed = false, front_ok = false;
  for (const json& check : bad["checks"]) {
    if (check["name"] == "mean_score_drop") mean_failed = !check["pass"].get<bool>();
    if (check["name"] == "pose_success_drop:profile") profile_failed = !check["pass"].get<bool>();
    if (check["name"] == "pose_success_drop:front") front_ok = check["pass"].get<bool>();
  }
  EXPECT_TRUE(mean_failed);
  // Profile scores 0.55 + 0.01 (seed % 3) - 0.005 (cfg - 6): with seeds 1..6 (cfg 7 for odd
  // seeds) they are 0.555 0.570 0.545 0.555 0.570 0.545: none reaches 0.6 before or after,
  // so its success rate cannot drop; front (0.705..0.72) stays at 6/6.
  EXPECT_FALSE(profile_failed);
  EXPECT_TRUE(front_ok);

  // The failed run is recorded, last-good stays; the earlier evaluations kept their scores.
  auto good = store_->GetLastGoodNightly("eval");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->sweep_id, same);
  auto failed = store_->GetNightlyRun(worse);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->verdict, farm::store::NightlyVerdict::kFail);
  auto rows = store_->Select(
      "SELECT count(DISTINCT rr.sweep_id), count(*) FROM render_results rr JOIN renders r "
      "ON r.id = rr.render_id WHERE r.pose = 'profile'", {});
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(std::get<std::int64_t>(rows->rows[0][0]), 3);
  EXPECT_EQ(std::get<std::int64_t>(rows->rows[0][1]), 3 * kSeeds);

  // A text run says what failed.
  CliRun text = Shell(kFarmctl + " nightly " + Quote(spec_) + " --sweep " + std::to_string(worse) +
                      " --baseline " + std::to_string(same) + " --db " + Quote(db_));
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_NE(text.out.find("FAIL (regression)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("FAIL mean_score_drop"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("6 of 18 paired renders changed"), std::string::npos) << text.out;
}

TEST_F(FarmctlNightlyTest, SuccessDropOfOnePoseFailsAlone) {
  // Front falls below the success threshold (0.6) on every render while the mean stays
  // within its limit by giving the other poses more: only the pose check fails.
  const std::int64_t first = Evaluate(false, NoShift, SamePixels);
  ASSERT_EQ(Nightly(first).exit_code, 0);
  const std::int64_t shifted = Evaluate(
      true,
      [](const std::string& pose) { return pose == "front" ? -0.15 : 0.075; },
      SamePixels);
  CliRun run = Nightly(shifted);
  ASSERT_EQ(run.exit_code, 1) << run.out;
  json out = ParseOrFail(run);
  for (const json& check : out["evaluation"]["checks"]) {
    const std::string name = check["name"];
    EXPECT_EQ(check["pass"].get<bool>(), name != "pose_success_drop:front") << name;
  }
  for (const json& pose : out["evaluation"]["poses"]) {
    if (pose["pose"] != "front") continue;
    EXPECT_EQ(pose["baseline"]["successes"], kSeeds);
    EXPECT_EQ(pose["run"]["successes"], 0);
    EXPECT_NEAR(pose["drop"].get<double>(), 1.0, 1e-12);
  }
}

TEST_F(FarmctlNightlyTest, BadBaselineAndUnknownSweepAreClearErrors) {
  const std::int64_t first = Evaluate(false, NoShift, SamePixels);
  CliRun run = Shell(kFarmctl + " nightly " + Quote(spec_) + " --sweep " + std::to_string(first) +
                     " --baseline yesterday --db " + Quote(db_) + " 2>&1");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.out.find("expected last-good or a sweep id"), std::string::npos) << run.out;
  run = Shell(kFarmctl + " nightly " + Quote(spec_) + " --sweep " + std::to_string(first) +
              " --baseline " + std::to_string(first) + " --db " + Quote(db_) + " 2>&1");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.out.find("cannot be its own baseline"), std::string::npos) << run.out;
  run = Shell(kFarmctl + " nightly " + Quote(spec_) + " --sweep 999 --baseline " +
              std::to_string(first) + " --db " + Quote(db_) + " 2>&1");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.out.find("has no renders"), std::string::npos) << run.out;
}

}  // namespace
