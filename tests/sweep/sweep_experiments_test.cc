// Every spec in experiments/ parses, counts exactly what it expands to, has no duplicate
// jobs, expands deterministically, and keeps its pinned job counts.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "sweep_test_util.h"

namespace farm::sweep {
namespace {

using testing::FakeResolver;
using testing::ReadFileOrDie;
using testing::RepoPresets;
using testing::SourceDir;

struct Pinned {
  std::int64_t prepare;  // one per training resolution when the spec trains
  std::int64_t train;
  std::int64_t render;
  std::int64_t score;
};

// Changing an experiment changes these on purpose; a surprise here is a bug.
const std::map<std::string, Pinned>& PinnedCounts() {
  static const std::map<std::string, Pinned> kCounts = {
      {"quickstart.yaml", {0, 0, 16, 16}},        // 2 tones x 2 samplers x 2 LoRA weights x 2 seeds
      {"quickstart_train.yaml", {1, 1, 6, 6}},    // 2 steps x 2 LoRA weights x 2 seeds, weight 0 once
      {"lora_steps.yaml", {1, 1, 144, 144}},      // 4 steps x 2 weights x 2 poses x 8 + 2 x 8
      {"tone_sampler.yaml", {1, 1, 48, 48}},      // 2 tones x 2 samplers x 2 cfg x 6 seeds
      {"clip_skip.yaml", {1, 1, 80, 80}},         // 5 clip skips x 2 poses x 8 seeds
      {"cfg.yaml", {1, 1, 54, 54}},               // (5 zipped x 2 samplers - 1) x 6 seeds
      {"poses.yaml", {1, 1, 160, 160}},           // 10 poses x 2 tones x 2 samplers x 4 seeds
      {"nightly_eval.yaml", {1, 1, 48, 48}},      // 4 poses x 2 tones x 2 samplers x 3 seeds
      {"lora_files.yaml", {0, 0, 24, 24}},        // 3 weights x 2 tones x 2 samplers x 2 seeds
      {"cfg_sampler_halving.yaml", {1, 1, 40, 40}},  // first rung: 5 cfg x 4 samplers x 2 seeds
  };
  return kCounts;
}

std::vector<std::string> ExperimentFiles() {
  std::vector<std::string> files;
  if (SourceDir().empty()) return files;
  for (const auto& entry : std::filesystem::directory_iterator(SourceDir() + "/experiments")) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path().filename());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class ExperimentTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (SourceDir().empty()) GTEST_SKIP() << "FARM_SOURCE_DIR is not set";
  }
  SweepSpec Parse() {
    std::string path = SourceDir() + "/experiments/" + GetParam();
    auto spec = ParseSweepSpec(ReadFileOrDie(path), GetParam(), RepoPresets());
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    return spec.ok() ? *spec : SweepSpec{};
  }
};

TEST_P(ExperimentTest, CountMatchesExpansionAndPin) {
  SweepSpec spec = Parse();
  auto count = CountJobs(spec);
  ASSERT_TRUE(count.ok()) << count.status().message();
  FakeResolver resolver;
  auto expanded = ExpandSweep(spec, resolver);
  ASSERT_TRUE(expanded.ok()) << expanded.status().message();
  EXPECT_EQ(expanded->count.prepare, count->prepare);
  EXPECT_EQ(expanded->count.train, count->train);
  EXPECT_EQ(expanded->count.render, count->render);
  EXPECT_EQ(expanded->count.score, count->score);
  EXPECT_EQ(static_cast<std::int64_t>(expanded->jobs.size()), count->total());

  auto pinned = PinnedCounts().find(GetParam());
  ASSERT_NE(pinned, PinnedCounts().end()) << "pin the counts of new experiment " << GetParam();
  EXPECT_EQ(count->prepare, pinned->second.prepare);
  EXPECT_EQ(count->train, pinned->second.train);
  EXPECT_EQ(count->render, pinned->second.render);
  EXPECT_EQ(count->score, pinned->second.score);
}

TEST_P(ExperimentTest, JobsAreDistinctAndWellFormed) {
  SweepSpec spec = Parse();
  FakeResolver resolver;
  auto expanded = ExpandSweep(spec, resolver);
  ASSERT_TRUE(expanded.ok()) << expanded.status().message();
  std::set<std::string> hashes;
  for (std::size_t i = 0; i < expanded->jobs.size(); ++i) {
    const SweepJob& job = expanded->jobs[i];
    EXPECT_TRUE(hashes.insert(job.param_hash).second) << "duplicate job " << i;
    EXPECT_EQ(job.param_hash.size(), 64u);
    for (std::size_t dep : job.depends_on) EXPECT_LT(dep, i);
    if (job.kind() == JobKind::kRender) {
      const auto& render = std::get<RenderParams>(job.params);
      EXPECT_EQ(render.checkpoint_sha256, *resolver.ResolveModel(spec.checkpoint));
      EXPECT_EQ(render.prompt.find('{'), std::string::npos) << render.prompt;
      for (const LoraRef& lora : render.loras) {
        if (!spec.loras.empty()) {  // a file of loras:, by its hash; no train job
          EXPECT_TRUE(job.depends_on.empty());
          EXPECT_TRUE(lora.ref.starts_with("sha256:")) << lora.ref;
          EXPECT_EQ(lora.ref.size(), 7u + 64u) << lora.ref;
          continue;
        }
        ASSERT_EQ(job.depends_on.size(), 1u);
        const SweepJob& train = expanded->jobs[job.depends_on[0]];
        EXPECT_EQ(train.kind(), JobKind::kTrain);
        EXPECT_TRUE(lora.ref.starts_with("train:" + train.param_hash + "@")) << lora.ref;
      }
    } else if (job.kind() == JobKind::kTrain) {
      ASSERT_EQ(job.depends_on.size(), 1u);
      const SweepJob& prepare = expanded->jobs[job.depends_on[0]];
      EXPECT_EQ(prepare.kind(), JobKind::kPrepare);
      EXPECT_EQ(std::get<TrainParams>(job.params).prepare_param_hash, prepare.param_hash);
    } else if (job.kind() == JobKind::kScore) {
      ASSERT_EQ(job.depends_on.size(), 1u);
      const SweepJob& render = expanded->jobs[job.depends_on[0]];
      EXPECT_EQ(std::get<ScoreParams>(job.params).render_param_hash, render.param_hash);
    }
  }
}

TEST_P(ExperimentTest, ExpansionIsDeterministic) {
  SweepSpec first = Parse();
  SweepSpec second = Parse();
  FakeResolver resolver;
  auto a = ExpandSweep(first, resolver);
  auto b = ExpandSweep(second, resolver);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->jobs.size(), b->jobs.size());
  for (std::size_t i = 0; i < a->jobs.size(); ++i) {
    EXPECT_EQ(a->jobs[i].param_hash, b->jobs[i].param_hash) << i;
    EXPECT_EQ(a->jobs[i].params_json, b->jobs[i].params_json) << i;
    EXPECT_EQ(a->jobs[i].depends_on, b->jobs[i].depends_on) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Experiments, ExperimentTest, ::testing::ValuesIn(ExperimentFiles()),
                         [](const auto& info) {
                           std::string name = info.param.substr(0, info.param.find('.'));
                           return name;
                         });

TEST(ExperimentPins, EveryPinnedExperimentExists) {
  if (SourceDir().empty()) GTEST_SKIP() << "FARM_SOURCE_DIR is not set";
  std::vector<std::string> files = ExperimentFiles();
  for (const auto& [name, counts] : PinnedCounts()) {
    EXPECT_NE(std::find(files.begin(), files.end(), name), files.end()) << name;
  }
}

TEST(ExperimentPins, EachFileStartsWithAComment) {
  if (SourceDir().empty()) GTEST_SKIP() << "FARM_SOURCE_DIR is not set";
  for (const std::string& file : ExperimentFiles()) {
    EXPECT_TRUE(ReadFileOrDie(SourceDir() + "/experiments/" + file).starts_with("# ")) << file;
  }
}

}  // namespace
}  // namespace farm::sweep

namespace farm::sweep {
namespace {

// The overview example of docs/sweep-spec.md must stay a valid spec.
TEST(DocsExample, OverviewParsesAndCounts) {
  if (SourceDir().empty()) GTEST_SKIP() << "FARM_SOURCE_DIR is not set";
  std::string doc = ReadFileOrDie(SourceDir() + "/docs/sweep-spec.md");
  std::size_t start = doc.find("```yaml\n");
  ASSERT_NE(start, std::string::npos);
  start += 8;
  std::string yaml = doc.substr(start, doc.find("```", start) - start);
  auto spec = ParseSweepSpec(yaml, "sweep-spec.md", RepoPresets());
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  auto count = CountJobs(*spec);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->render, 4 * 2 * 2 * 8);  // steps x tones x cfg x seeds
}

}  // namespace
}  // namespace farm::sweep
