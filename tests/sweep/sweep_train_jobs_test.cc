// Training through the farm: prepare jobs (one per dataset), train jobs depending on
// them, stable hashes, and one run per step when the schedule depends on the total steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "farm/schemas/sha256.h"
#include "sweep_test_util.h"

namespace farm::sweep {
namespace {

using testing::FakeResolver;
using testing::ParseOrFail;

const char kHeader[] =
    "name: t\n"
    "identity: {name: alice, photos: [models:/ids/alice/b.jpg, models:/ids/alice/a.jpg], "
    "token: sks person, pick: largest}\n"
    "checkpoint: {sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n"
    "render: {prompt: 'photo of {token}', sampler: Euler, seeds: [1]}\n";

ExpandedSweep ExpandOrFail(const std::string& yaml) {
  SweepSpec spec = ParseOrFail(yaml);
  FakeResolver resolver;
  auto expanded = ExpandSweep(spec, resolver);
  EXPECT_TRUE(expanded.ok()) << expanded.status().message();
  if (!expanded.ok()) return {};
  auto count = CountJobs(spec);
  EXPECT_TRUE(count.ok());
  if (count.ok()) {
    EXPECT_EQ(count->prepare, expanded->count.prepare);
    EXPECT_EQ(count->train, expanded->count.train);
    EXPECT_EQ(count->total(), static_cast<std::int64_t>(expanded->jobs.size()));
  }
  return *expanded;
}

std::vector<const SweepJob*> OfKind(const ExpandedSweep& sweep, JobKind kind) {
  std::vector<const SweepJob*> out;
  for (const SweepJob& job : sweep.jobs) {
    if (job.kind() == kind) out.push_back(&job);
  }
  return out;
}

TEST(SweepTrainJobsTest, OnePrepareJobFeedsEveryTrainJob) {
  ExpandedSweep sweep = ExpandOrFail(std::string(kHeader) +
                                     "train: {steps: [800, 1600], rank: [8, 16], seed: 3}\n");
  ASSERT_EQ(sweep.count.prepare, 1);
  ASSERT_EQ(sweep.count.train, 2);
  ASSERT_EQ(sweep.jobs[0].kind(), JobKind::kPrepare);
  EXPECT_TRUE(sweep.jobs[0].depends_on.empty());
  const auto& prepare = std::get<PrepareParams>(sweep.jobs[0].params);
  EXPECT_EQ(prepare.identity, "alice");
  EXPECT_EQ(prepare.instance_token, "sks person");
  EXPECT_TRUE(prepare.pick_largest);
  EXPECT_EQ(prepare.resolution, 512);
  EXPECT_EQ(prepare.crop_ratio, 3.0);
  EXPECT_EQ(prepare.caption_template, "a photo of {token}");
  ASSERT_EQ(prepare.photos.size(), 2u);

  // The canonical JSON lists photos sorted by sha256 with their models:-relative paths.
  auto json = nlohmann::json::parse(sweep.jobs[0].params_json);
  EXPECT_EQ(json["kind"], "prepare");
  ASSERT_EQ(json["photos"].size(), 2u);
  EXPECT_LT(json["photos"][0]["sha256"].get<std::string>(),
            json["photos"][1]["sha256"].get<std::string>());
  std::set<std::string> paths = {json["photos"][0]["path"], json["photos"][1]["path"]};
  EXPECT_EQ(paths, (std::set<std::string>{"ids/alice/a.jpg", "ids/alice/b.jpg"}));
  EXPECT_EQ(json["settings"]["resolution"], 512);
  EXPECT_EQ(sweep.jobs[0].param_hash, Sha256Hex(sweep.jobs[0].params_json));

  for (const SweepJob* train : OfKind(sweep, JobKind::kTrain)) {
    EXPECT_EQ(train->depends_on, (std::vector<std::size_t>{0}));
    EXPECT_EQ(std::get<TrainParams>(train->params).prepare_param_hash, sweep.jobs[0].param_hash);
    EXPECT_EQ(nlohmann::json::parse(train->params_json)["prepare_param_hash"],
              sweep.jobs[0].param_hash);
  }
}

TEST(SweepTrainJobsTest, EachResolutionIsItsOwnDataset) {
  ExpandedSweep sweep =
      ExpandOrFail(std::string(kHeader) + "train: {steps: [100], rank: [8, 16], resolution: [512, 384]}\n");
  // 4 train jobs; the two ranks at one resolution share its dataset.
  EXPECT_EQ(OfKind(sweep, JobKind::kTrain).size(), 4u);
  auto prepares = OfKind(sweep, JobKind::kPrepare);
  ASSERT_EQ(prepares.size(), 2u);
  EXPECT_NE(prepares[0]->param_hash, prepares[1]->param_hash);
  for (const SweepJob* train : OfKind(sweep, JobKind::kTrain)) {
    const auto& params = std::get<TrainParams>(train->params);
    const SweepJob& prepare = sweep.jobs[train->depends_on.at(0)];
    EXPECT_EQ(prepare.param_hash, params.prepare_param_hash);
    EXPECT_EQ(std::get<PrepareParams>(prepare.params).resolution, params.resolution);
  }
}

TEST(SweepTrainJobsTest, HashesAreStableAndIgnorePhotoOrder) {
  const std::string spec = std::string(kHeader) + "train: {steps: [800]}\n";
  ExpandedSweep a = ExpandOrFail(spec);
  ExpandedSweep b = ExpandOrFail(spec);
  ASSERT_EQ(a.jobs.size(), b.jobs.size());
  for (std::size_t i = 0; i < a.jobs.size(); ++i) EXPECT_EQ(a.jobs[i].param_hash, b.jobs[i].param_hash);

  PrepareParams p = std::get<PrepareParams>(a.jobs[0].params);
  PrepareParams reversed = p;
  std::reverse(reversed.photos.begin(), reversed.photos.end());
  EXPECT_EQ(*ParamHash(p), *ParamHash(reversed));
  PrepareParams other = p;
  other.crop_ratio = 2.5;
  EXPECT_NE(*ParamHash(p), *ParamHash(other));
  other = p;
  other.photos[0].sha256 = std::string(64, 'f');
  EXPECT_NE(*ParamHash(p), *ParamHash(other));

  // The record reads back as written.
  auto back = PrepareParamsFromJson(a.jobs[0].params_json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*ParamHash(*back), a.jobs[0].param_hash);

  // A train job's hash covers its dataset.
  TrainParams t = std::get<TrainParams>(a.jobs[1].params);
  TrainParams t2 = t;
  t2.prepare_param_hash = std::string(64, '0');
  EXPECT_NE(*ParamHash(t), *ParamHash(t2));
}

TEST(SweepTrainJobsTest, CosineScheduleTrainsEachStepInItsOwnRun) {
  ExpandedSweep sweep = ExpandOrFail(std::string(kHeader) +
                                     "train: {steps: [1600, 800], seed: [0, 1], "
                                     "extra: {lr_scheduler: cosine}}\n");
  // 2 groups x 2 steps, each saving only its step.
  auto trains = OfKind(sweep, JobKind::kTrain);
  ASSERT_EQ(trains.size(), 4u);
  EXPECT_EQ(std::get<TrainParams>(trains[0]->params).save_steps, (std::vector<int>{800}));
  EXPECT_EQ(std::get<TrainParams>(trains[1]->params).save_steps, (std::vector<int>{1600}));
  ASSERT_EQ(sweep.count.notes.size(), 1u);
  EXPECT_NE(sweep.count.notes[0].find("cannot share a run"), std::string::npos);

  // Each render depends on the run that saves its step.
  for (const SweepJob* render : OfKind(sweep, JobKind::kRender)) {
    const auto& params = std::get<RenderParams>(render->params);
    ASSERT_EQ(params.loras.size(), 1u);
    const SweepJob& train = sweep.jobs[render->depends_on.at(0)];
    const std::string& ref = params.loras[0].ref;
    const int step = std::stoi(ref.substr(ref.find('@') + 1));
    EXPECT_EQ(std::get<TrainParams>(train.params).save_steps, (std::vector<int>{step}));
    EXPECT_EQ(ref, "train:" + train.param_hash + "@" + std::to_string(step));
  }

  // A constant schedule keeps one run per group, and says nothing.
  ExpandedSweep constant = ExpandOrFail(std::string(kHeader) +
                                        "train: {steps: [1600, 800], seed: [0, 1], "
                                        "extra: {lr_scheduler: constant}}\n");
  EXPECT_EQ(constant.count.train, 2);
  EXPECT_TRUE(constant.count.notes.empty());
}

TEST(SweepTrainJobsTest, NoTrainingNoPrepare) {
  ExpandedSweep sweep = ExpandOrFail(std::string(kHeader));
  EXPECT_EQ(sweep.count.prepare, 0);
  EXPECT_TRUE(OfKind(sweep, JobKind::kPrepare).empty());
}

// `ranks: K` makes every train job a K-rank run: part of its record (the global batch is
// K x batch_size), one value, not swept.
TEST(SweepTrainJobsTest, RanksAreRecordedInEveryTrainJob) {
  ExpandedSweep sweep = ExpandOrFail(std::string(kHeader) + "train: {steps: [800], rank: [8, 16], ranks: 2}\n");
  std::vector<const SweepJob*> trains = OfKind(sweep, JobKind::kTrain);
  ASSERT_EQ(trains.size(), 2u);
  for (const SweepJob* job : trains) {
    EXPECT_EQ(std::get<TrainParams>(job->params).ranks, 2);
    EXPECT_EQ(nlohmann::json::parse(job->params_json)["ranks"], 2);
  }
  ExpandedSweep one = ExpandOrFail(std::string(kHeader) + "train: {steps: [800], rank: [8, 16]}\n");
  EXPECT_EQ(std::get<TrainParams>(OfKind(one, JobKind::kTrain)[0]->params).ranks, 1);
  EXPECT_NE(OfKind(one, JobKind::kTrain)[0]->param_hash, trains[0]->param_hash);
}

}  // namespace
}  // namespace farm::sweep
