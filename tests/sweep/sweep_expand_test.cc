// Expansion semantics on small inline specs: grid products, dependent values, zip,
// exclusions, seeds, training groups, LoRA files, LoRA weight 0, stages, scores and the cap.
#include <gtest/gtest.h>

#include "farm/schemas/sha256.h"
#include "sweep_test_util.h"

namespace farm::sweep {
namespace {

using testing::FakeResolver;
using testing::kSpecHeader;
using testing::ParseOrFail;

// A spec without training: `body` holds render/grid/... sections.
std::string Spec(const std::string& body) { return std::string(kSpecHeader) + body; }

ExpandedSweep ExpandOrFail(const std::string& yaml, ExpandOptions options = {}) {
  SweepSpec spec = ParseOrFail(yaml);
  FakeResolver resolver;
  auto expanded = ExpandSweep(spec, resolver, options);
  EXPECT_TRUE(expanded.ok()) << expanded.status().message();
  if (!expanded.ok()) return {};
  auto count = CountJobs(spec);
  EXPECT_TRUE(count.ok());
  if (count.ok()) {
    EXPECT_EQ(count->total(), static_cast<std::int64_t>(expanded->jobs.size()))
        << "CountJobs disagrees with ExpandSweep";
  }
  return *expanded;
}

std::vector<RenderParams> Renders(const ExpandedSweep& sweep) {
  std::vector<RenderParams> renders;
  for (const SweepJob& job : sweep.jobs) {
    if (job.kind() == JobKind::kRender) renders.push_back(std::get<RenderParams>(job.params));
  }
  return renders;
}

const char kRender[] =
    "render:\n"
    "  prompt: 'photo of {token}'\n"
    "  sampler: Euler\n"
    "  seeds: [1]\n";

TEST(ExpandTest, GridIsAProductInDeclarationOrder) {
  auto sweep =
      ExpandOrFail(Spec(std::string(kRender) + "grid:\n  cfg: [5, 7]\n  clip_skip: [1, 2, 3]\n"));
  auto renders = Renders(sweep);
  ASSERT_EQ(renders.size(), 6u);
  EXPECT_EQ(renders[0].cfg, 5);
  EXPECT_EQ(renders[0].clip_skip, 1);
  EXPECT_EQ(renders[1].clip_skip, 2);  // last parameter varies fastest
  EXPECT_EQ(renders[3].cfg, 7);
  EXPECT_EQ(renders[5].clip_skip, 3);
  EXPECT_EQ(renders[0].width, 512);
  EXPECT_EQ(renders[0].height, 768);
  EXPECT_EQ(renders[0].prompt, "photo of sks person");
  EXPECT_TRUE(renders[0].loras.empty());
}

TEST(ExpandTest, DependentValuesFollowTheirParent) {
  auto sweep = ExpandOrFail(
      Spec("render: {prompt: 'photo of {token}, {tone}', seeds: [1]}\n"
           "grid:\n"
           "  sampler: {by: tone, values: {warm: [Euler], cool: [Euler a, DPM++ 2M Karras]}}\n"
           "  tone: [warm, cool]\n"));
  auto renders = Renders(sweep);
  ASSERT_EQ(renders.size(), 3u);
  EXPECT_EQ(renders[0].tone, "warm");
  EXPECT_EQ(renders[0].sampler, "Euler");
  EXPECT_EQ(renders[1].tone, "cool");
  EXPECT_EQ(renders[1].sampler, "Euler a");
  EXPECT_EQ(renders[1].scheduler, "normal");
  EXPECT_EQ(renders[2].sampler, "DPM++ 2M");
  EXPECT_EQ(renders[2].scheduler, "karras");
}

TEST(ExpandTest, SamplerByToneWithoutValuesUsesTonePresets) {
  auto sweep =
      ExpandOrFail(Spec("render: {prompt: 'photo of {token}, {tone}', seeds: [1]}\n"
                        "grid:\n  tone: [warm, cool]\n  sampler: {by: tone}\n"));
  auto renders = Renders(sweep);
  ASSERT_EQ(renders.size(), 4u);
  EXPECT_EQ(renders[0].sampler, "Euler");
  EXPECT_EQ(renders[1].sampler, "DPM++ SDE");
  EXPECT_EQ(renders[1].scheduler, "karras");
  EXPECT_EQ(renders[2].sampler, "Euler a");
  EXPECT_EQ(renders[3].sampler, "DPM++ 2M");
  EXPECT_NE(renders[0].prompt.find("golden"), std::string::npos) << renders[0].prompt;
}

TEST(ExpandTest, ZipGroupsVaryTogether) {
  std::string grid = "grid:\n  cfg: [5, 7, 9]\n  clip_skip: [1, 2, 3]\n";
  auto zipped = Renders(ExpandOrFail(Spec(kRender + grid + "zip: [[cfg, clip_skip]]\n")));
  ASSERT_EQ(zipped.size(), 3u);
  EXPECT_EQ(zipped[0].cfg, 5);
  EXPECT_EQ(zipped[0].clip_skip, 1);
  EXPECT_EQ(zipped[2].cfg, 9);
  EXPECT_EQ(zipped[2].clip_skip, 3);
  EXPECT_EQ(Renders(ExpandOrFail(Spec(kRender + grid))).size(), 9u);
}

TEST(ExpandTest, ExclusionsDropMatchingCombinations) {
  auto renders = Renders(ExpandOrFail(
      Spec("render: {prompt: 'photo of {token}, {tone}', sampler: Euler, seeds: [1, 2]}\n"
           "grid:\n  tone: [warm, cool]\n  cfg: [5, 7, 9]\n"
           "exclude:\n  - {tone: cool, cfg: [7, 9]}\n  - {cfg: 5.0, tone: warm}\n")));
  ASSERT_EQ(renders.size(), 6u);  // (6 - 2 - 1) points x 2 seeds
  for (const RenderParams& r : renders) {
    EXPECT_FALSE(r.tone == "cool" && r.cfg > 6) << r.tone << " " << r.cfg;
    EXPECT_FALSE(r.tone == "warm" && r.cfg == 5);
  }
}

TEST(ExpandTest, ExclusionsCanNameLoraSteps) {
  auto sweep =
      ExpandOrFail(Spec("train: {steps: [800, 1600]}\n"
                        "render: {prompt: 'photo of {token}, {tone}', sampler: Euler, seeds: [1]}\n"
                        "grid:\n  tone: [warm, cool]\n"
                        "exclude:\n  - {lora_step: 800, tone: cool}\n"));
  auto renders = Renders(sweep);
  ASSERT_EQ(renders.size(), 3u);
  EXPECT_TRUE(renders[0].loras[0].ref.ends_with("@800"));
  EXPECT_EQ(renders[0].tone, "warm");
  EXPECT_TRUE(renders[1].loras[0].ref.ends_with("@1600"));
}

TEST(ExpandTest, SeedForms) {
  auto seeds_of = [](const std::string& seeds) {
    std::vector<std::uint64_t> out;
    for (const RenderParams& r : Renders(ExpandOrFail(Spec(
             "render: {prompt: 'photo of {token}', sampler: Euler, seeds: " + seeds + "}\n")))) {
      out.push_back(r.seed);
    }
    return out;
  };
  EXPECT_EQ(seeds_of("[5, 3, 9]"), (std::vector<std::uint64_t>{5, 3, 9}));
  EXPECT_EQ(seeds_of("42"), (std::vector<std::uint64_t>{42}));
  EXPECT_EQ(seeds_of("{base: 1000, count: 3}"), (std::vector<std::uint64_t>{1000, 1001, 1002}));
  EXPECT_EQ(seeds_of("{count: 2}"), (std::vector<std::uint64_t>{0, 1}));
}

TEST(ExpandTest, OneTrainJobPerGroupSavingEveryStep) {
  auto sweep = ExpandOrFail(
      Spec("train: {steps: [1600, 800], rank: [8, 16], learning_rate: [1e-4, 5e-5], alpha: 4}\n" +
           std::string(kRender)));
  ASSERT_EQ(sweep.count.prepare, 1);  // one resolution: one dataset for every group
  ASSERT_EQ(sweep.count.train, 4);
  ASSERT_EQ(sweep.count.render, 8);  // 4 groups x 2 steps
  ASSERT_EQ(sweep.jobs[0].kind(), JobKind::kPrepare);
  const auto& first = std::get<TrainParams>(sweep.jobs[1].params);
  EXPECT_EQ(first.save_steps, (std::vector<int>{800, 1600}));
  EXPECT_EQ(first.rank, 8);
  EXPECT_EQ(first.learning_rate, 1e-4);
  EXPECT_EQ(std::get<TrainParams>(sweep.jobs[2].params).learning_rate, 5e-5);
  EXPECT_EQ(std::get<TrainParams>(sweep.jobs[3].params).rank, 16);
  EXPECT_EQ(first.alpha, 4);
  EXPECT_EQ(first.instance_token, "sks person");
  EXPECT_EQ(first.identity, "alice");
  for (std::size_t t = 1; t <= 4; ++t) {
    EXPECT_EQ(sweep.jobs[t].depends_on, (std::vector<std::size_t>{0}));
    EXPECT_EQ(std::get<TrainParams>(sweep.jobs[t].params).prepare_param_hash,
              sweep.jobs[0].param_hash);
  }
  for (std::size_t i = 5; i < sweep.jobs.size(); ++i) {
    const auto& render = std::get<RenderParams>(sweep.jobs[i].params);
    ASSERT_EQ(render.loras.size(), 1u);
    std::size_t group = sweep.jobs[i].depends_on.at(0);
    EXPECT_EQ(group, 1 + (i - 5) / 2);
    EXPECT_EQ(render.loras[0].ref,
              "train:" + sweep.jobs[group].param_hash + "@" + ((i - 5) % 2 == 0 ? "800" : "1600"));
    EXPECT_EQ(render.loras[0].weight, 1.0);
  }
}

TEST(ExpandTest, LoraWeightZeroRendersOnceWithoutLora) {
  auto sweep = ExpandOrFail(Spec("train: {steps: [800, 1600], seed: [0, 1]}\n" +
                                 std::string(kRender) + "grid:\n  lora_weight: [0, 0.8]\n"));
  // 2 groups x 2 steps x weight 0.8, plus one shared baseline.
  EXPECT_EQ(sweep.count.render, 5);
  auto renders = Renders(sweep);
  ASSERT_EQ(renders.size(), 5u);
  EXPECT_TRUE(renders[0].loras.empty());
  EXPECT_TRUE(sweep.jobs[3].depends_on.empty());  // after 1 prepare and 2 train jobs
  EXPECT_EQ(renders[1].loras.at(0).weight, 0.8);
  EXPECT_EQ(sweep.value_counts[0].name, "lora_step");
  EXPECT_EQ(sweep.value_counts[0].counts[0].value, "none");
  EXPECT_EQ(sweep.value_counts[0].counts[0].renders, 1);
}

TEST(ExpandTest, StagesTonesAndDenoise) {
  auto sweep = ExpandOrFail(
      Spec("render: {prompt: 'photo of {token}, {tone}, {pose}', sampler: Euler, seeds: [1], "
           "tone: warm, pose: three_quarter}\n"
           "grid:\n  denoise: [0.3, 0.5]\n"
           "pipeline: studio\n"));
  auto renders = Renders(sweep);
  ASSERT_EQ(renders.size(), 2u);
  const RenderParams& r = renders[1];
  ASSERT_EQ(r.stages.size(), 5u);
  EXPECT_EQ(r.stages[1].kind, "img2img");
  EXPECT_EQ(std::get<double>(r.stages[1].settings.at("denoise")), 0.5);
  EXPECT_EQ(std::get<double>(r.stages[0].settings.at("denoise")), 0.4);  // detailer: preset
  EXPECT_EQ(r.stages[4].kind, "tone");
  EXPECT_EQ(std::get<double>(r.stages[4].settings.at("white_balance_shift")), 900);
  EXPECT_TRUE(r.prompt.ends_with(", three quarter")) << r.prompt;
  EXPECT_EQ(r.denoise, 1.0);
}

TEST(ExpandTest, InlineToneOverridesPreset) {
  auto renders = Renders(ExpandOrFail(
      Spec("tones:\n  warm: {prompt: candle light}\n  teal: {prompt: teal and orange}\n"
           "render: {prompt: '{token} in {tone}', sampler: Euler, seeds: [1]}\n"
           "grid: {tone: [warm, teal]}\npipeline: [{stage: tone, settings: {strength: 0.2}}]\n")));
  ASSERT_EQ(renders.size(), 2u);
  EXPECT_EQ(renders[0].prompt, "sks person in candle light");
  EXPECT_EQ(std::get<double>(renders[0].stages[0].settings.at("white_balance_shift")), 900);
  EXPECT_EQ(std::get<double>(renders[0].stages[0].settings.at("strength")), 0.2);
  EXPECT_EQ(renders[1].prompt, "sks person in teal and orange");
}

TEST(ExpandTest, ScoresFollowRenders) {
  auto sweep = ExpandOrFail(
      Spec(std::string(kRender) + "grid: {cfg: [5, 7]}\nscore: {metric: euclidean}\n"));
  ASSERT_EQ(sweep.jobs.size(), 4u);
  for (std::size_t i = 2; i < 4; ++i) {
    ASSERT_EQ(sweep.jobs[i].kind(), JobKind::kScore);
    const auto& score = std::get<ScoreParams>(sweep.jobs[i].params);
    EXPECT_EQ(sweep.jobs[i].depends_on, (std::vector<std::size_t>{i - 2}));
    EXPECT_EQ(score.render_param_hash, sweep.jobs[i - 2].param_hash);
    EXPECT_EQ(score.metric, "euclidean");
    EXPECT_EQ(score.identity, "alice");
  }
}

TEST(ExpandTest, PoseControlAddsAControlNetUnit) {
  auto renders = Renders(
      ExpandOrFail(Spec("render: {prompt: '{token}, {pose}', sampler: Euler, seeds: [1], "
                        "pose_control: {path: models:/cn/openpose.safetensors, weight: 0.8}}\n"
                        "grid: {pose: [standing, seated]}\n")));
  ASSERT_EQ(renders.size(), 2u);
  ASSERT_EQ(renders[1].controlnets.size(), 1u);
  EXPECT_EQ(renders[1].controlnets[0].input, "pose:seated");
  EXPECT_EQ(renders[1].controlnets[0].weight, 0.8);
  EXPECT_EQ(renders[1].controlnets[0].model_sha256,
            Sha256Hex("model:models:/cn/openpose.safetensors"));
}

TEST(ExpandTest, CapRefusesBeforeResolvingAnything) {
  SweepSpec spec = ParseOrFail(
      Spec("render: {prompt: 'photo of {token}', sampler: Euler, seeds: {count: 1000000}}\n"
           "grid:\n  cfg: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n  steps: [10, 20, 30, 40, 50]\n"
           "score: {}\n"));
  FakeResolver resolver;
  auto expanded = ExpandSweep(spec, resolver);
  ASSERT_FALSE(expanded.ok());
  EXPECT_EQ(expanded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(expanded.status().message().find("100000000 jobs"), std::string::npos)
      << expanded.status().message();
  EXPECT_NE(expanded.status().message().find("cap of 100000"), std::string::npos);
  EXPECT_EQ(resolver.model_calls + resolver.photo_calls, 0);
}

TEST(ExpandTest, CapComesFromOptionsThenSpecThenDefault) {
  std::string yaml = Spec("max_jobs: 5\n" + std::string(kRender) +
                          "grid: {cfg: [4, 5, 6, 7]}\n"
                          "score: {}\n");
  SweepSpec spec = ParseOrFail(yaml);
  FakeResolver resolver;
  auto refused = ExpandSweep(spec, resolver);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("8 jobs (0 prepare, 0 train, 4 render, 4 score), over the "
                                            "cap of 5"),
            std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(ExpandSweep(spec, resolver, {.max_jobs = 8}).ok());
  EXPECT_FALSE(ExpandSweep(spec, resolver, {.max_jobs = 7}).ok());
}

TEST(ExpandTest, ResolverErrorsCarryTheSection) {
  SweepSpec spec = ParseOrFail(Spec(kRender));
  FakeResolver resolver;
  resolver.failures["photos/*.jpg"] = NotFound("no photos match photos/*.jpg");
  auto expanded = ExpandSweep(spec, resolver);
  ASSERT_FALSE(expanded.ok());
  EXPECT_EQ(expanded.status().code(), StatusCode::kNotFound);
  EXPECT_NE(expanded.status().message().find("identity.photos"), std::string::npos);
}

TEST(ExpandTest, CheckpointHashComesFromResolver) {
  std::string yaml =
      "name: t\n"
      "identity: {name: alice, photos: p/*.jpg, token: sks person}\n"
      "checkpoint: models:/sd15/model.safetensors\n" +
      std::string(kRender);
  auto renders = Renders(ExpandOrFail(yaml));
  ASSERT_EQ(renders.size(), 1u);
  EXPECT_EQ(renders[0].checkpoint_sha256, Sha256Hex("model:models:/sd15/model.safetensors"));
}

TEST(ExpandTest, VaeHashComesFromResolverAndOnlyItChangesTheHash) {
  const ExpandedSweep plain = ExpandOrFail(Spec(kRender));
  const ExpandedSweep by_path = ExpandOrFail(Spec("vae: models:/vae/ft-mse.safetensors\n" + std::string(kRender)));
  const ExpandedSweep by_hash = ExpandOrFail(Spec("vae: {sha256: " + std::string(64, 'b') + "}\n" + kRender));
  ASSERT_EQ(Renders(plain).size(), 1u);
  ASSERT_EQ(Renders(by_path).size(), 1u);
  ASSERT_EQ(Renders(by_hash).size(), 1u);
  EXPECT_TRUE(Renders(plain)[0].vae_sha256.empty());
  EXPECT_EQ(Renders(by_path)[0].vae_sha256, Sha256Hex("model:models:/vae/ft-mse.safetensors"));
  EXPECT_EQ(Renders(by_hash)[0].vae_sha256, std::string(64, 'b'));
  EXPECT_NE(by_path.jobs.at(0).param_hash, plain.jobs.at(0).param_hash);
  EXPECT_NE(by_hash.jobs.at(0).param_hash, by_path.jobs.at(0).param_hash);
  // Without vae: the record and its hash are what they were before the field existed.
  RenderParams without = Renders(by_hash)[0];
  without.vae_sha256.clear();
  EXPECT_EQ(*ParamHash(without), plain.jobs.at(0).param_hash);

  SweepSpec spec = ParseOrFail(Spec("vae: models:/vae/missing.safetensors\n" + std::string(kRender)));
  FakeResolver resolver;
  resolver.failures["models:/vae/missing.safetensors"] = NotFound("models:/vae/missing.safetensors: no such file");
  auto failed = ExpandSweep(spec, resolver);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().message().rfind("vae: ", 0), 0u) << failed.status().message();
}

TEST(ExpandTest, EmbeddingsAreRecordedByNameWithTheirFilesHash) {
  const ExpandedSweep plain = ExpandOrFail(Spec(kRender));
  const std::string embeddings = "embeddings:\n"
                                 "  - models:/embeddings/EasyNegative.safetensors\n"
                                 "  - {name: face-ti, sha256: " + std::string(64, 'c') + "}\n"
                                 "  - {name: other, path: ti/x.safetensors}\n";
  const ExpandedSweep with = ExpandOrFail(Spec(embeddings + kRender));
  ASSERT_EQ(Renders(with).size(), 1u);
  EXPECT_TRUE(Renders(plain)[0].embeddings.empty());
  const std::map<std::string, std::string> expected = {
      {"EasyNegative", Sha256Hex("model:models:/embeddings/EasyNegative.safetensors")},
      {"face-ti", std::string(64, 'c')},
      {"other", Sha256Hex("model:ti/x.safetensors")}};
  EXPECT_EQ(Renders(with)[0].embeddings, expected);
  EXPECT_NE(with.jobs.at(0).param_hash, plain.jobs.at(0).param_hash);
  RenderParams without = Renders(with)[0];
  without.embeddings.clear();
  EXPECT_EQ(*ParamHash(without), plain.jobs.at(0).param_hash);

  SweepSpec spec = ParseOrFail(Spec("embeddings: [ti/missing.safetensors]\n" + std::string(kRender)));
  FakeResolver resolver;
  resolver.failures["ti/missing.safetensors"] = NotFound("ti/missing.safetensors: no such file");
  auto failed = ExpandSweep(spec, resolver);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().message().rfind("embeddings (missing): ", 0), 0u) << failed.status().message();
}

TEST(ExpandTest, AnEmbeddingsFolderGivesEveryFileByItsStem) {
  SweepSpec spec = ParseOrFail(Spec("embeddings:\n  - {folder: models:/embeddings}\n  - {name: extra, sha256: " +
                                    std::string(64, 'd') + "}\n" + kRender));
  FakeResolver resolver;
  resolver.folders["models:/embeddings"] = {"EasyNegative.safetensors", "people/sks.safetensors"};
  auto expanded = ExpandSweep(spec, resolver);
  ASSERT_TRUE(expanded.ok()) << expanded.status().ToString();
  const std::map<std::string, std::string> expected = {
      {"EasyNegative", Sha256Hex("model:models:/embeddings/EasyNegative.safetensors")},
      {"extra", std::string(64, 'd')},
      {"sks", Sha256Hex("model:models:/embeddings/people/sks.safetensors")}};
  EXPECT_EQ(Renders(*expanded)[0].embeddings, expected);

  // A file of the folder and a listed entry with one name: refused, not silently merged.
  resolver.folders["models:/embeddings"].push_back("extra.safetensors");
  auto twice = ExpandSweep(spec, resolver);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("two embeddings are named 'extra'"), std::string::npos)
      << twice.status().message();
  resolver.folders.clear();
  auto missing = ExpandSweep(spec, resolver);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message().rfind("embeddings (models:/embeddings): ", 0), 0u) << missing.status().message();
}

TEST(ExpandTest, SameSpecSameHashesDifferentSeedDifferentHash) {
  auto a = ExpandOrFail(Spec(kRender));
  auto b = ExpandOrFail(Spec(kRender));
  auto c = ExpandOrFail(Spec("render: {prompt: 'photo of {token}', sampler: Euler, seeds: [2]}\n"));
  EXPECT_EQ(a.jobs.at(0).param_hash, b.jobs.at(0).param_hash);
  EXPECT_NE(a.jobs.at(0).param_hash, c.jobs.at(0).param_hash);
}

TEST(ExpandTest, ValueCountsPerParameter) {
  auto sweep = ExpandOrFail(
      Spec("render: {prompt: 'photo of {token}, {tone}', seeds: [1, 2]}\n"
           "grid:\n  tone: [warm, cool]\n  sampler: {by: tone, values: {warm: [Euler], "
           "cool: [Euler a, DPM++ 2M Karras]}}\n"));
  ASSERT_EQ(sweep.value_counts.size(), 3u);  // tone, sampler, seed
  EXPECT_EQ(sweep.value_counts[0].name, "tone");
  EXPECT_EQ(sweep.value_counts[0].counts[0].value, "warm");
  EXPECT_EQ(sweep.value_counts[0].counts[0].renders, 2);
  EXPECT_EQ(sweep.value_counts[0].counts[1].renders, 4);
  EXPECT_EQ(sweep.value_counts[2].name, "seed");
  EXPECT_EQ(sweep.value_counts[2].counts[1].renders, 3);
  EXPECT_EQ(sweep.count.parameters[1].values,
            (std::vector<std::string>{"Euler", "Euler a", "DPM++ 2M Karras"}));
}

// Two LoRA files: one by path (the fake resolver hashes the path), one by its hash.
const char kLoras[] =
    "loras:\n"
    "  face_v1: {path: models:/loras/face_v1.safetensors}\n"
    "  face_v2: {path: ../loras/face_v2.safetensors, "
    "sha256: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb}\n";

const std::string kFaceV1 = "sha256:" + Sha256Hex("model:models:/loras/face_v1.safetensors");
const std::string kFaceV2 = "sha256:" + std::string(64, 'b');

TEST(ExpandLoraFilesTest, RendersReferToTheFilesByHash) {
  auto sweep = ExpandOrFail(Spec(std::string(kLoras) + kRender +
                                 "grid:\n  lora: [face_v1, face_v2]\n  lora_weight: [0.6, 1.0]\n"
                                 "score: {}\n"));
  EXPECT_EQ(sweep.count.train, 0);
  EXPECT_EQ(sweep.count.render, 4);
  EXPECT_EQ(sweep.count.score, 4);
  auto renders = Renders(sweep);
  ASSERT_EQ(renders.size(), 4u);
  std::vector<std::pair<std::string, double>> loras;
  for (const RenderParams& r : renders) {
    ASSERT_EQ(r.loras.size(), 1u);
    loras.emplace_back(r.loras[0].ref, r.loras[0].weight);
  }
  EXPECT_EQ(loras, (std::vector<std::pair<std::string, double>>{
                       {kFaceV1, 0.6}, {kFaceV1, 1.0}, {kFaceV2, 0.6}, {kFaceV2, 1.0}}));
  for (std::size_t i = 0; i < 4; ++i) EXPECT_TRUE(sweep.jobs[i].depends_on.empty()) << i;
  EXPECT_EQ(sweep.jobs[4].depends_on, (std::vector<std::size_t>{0}));  // scores as before
  // lora, lora_weight, seed
  ASSERT_EQ(sweep.value_counts.size(), 3u);
  EXPECT_EQ(sweep.value_counts[0].name, "lora");
  EXPECT_EQ(sweep.value_counts[0].counts[0].value, "face_v1");
  EXPECT_EQ(sweep.value_counts[0].counts[0].renders, 2);
  EXPECT_EQ(sweep.value_counts[0].counts[1].value, "face_v2");
  EXPECT_EQ(sweep.count.parameters[0].name, "lora");
  EXPECT_EQ(sweep.count.parameters[0].values, (std::vector<std::string>{"face_v1", "face_v2"}));
}

TEST(ExpandLoraFilesTest, OneFileIsTheDefaultAtWeightOne) {
  auto renders = Renders(ExpandOrFail(Spec("loras: {face: models:/loras/face_v1.safetensors}\n" +
                                           std::string(kRender) + "grid: {cfg: [5, 7]}\n")));
  ASSERT_EQ(renders.size(), 2u);
  for (const RenderParams& r : renders) {
    ASSERT_EQ(r.loras.size(), 1u);
    EXPECT_EQ(r.loras[0].ref, kFaceV1);
    EXPECT_EQ(r.loras[0].weight, 1.0);
  }
}

TEST(ExpandLoraFilesTest, FixedLoraAndWeight) {
  auto renders = Renders(ExpandOrFail(
      Spec(std::string(kLoras) +
           "render: {prompt: 'photo of {token}', sampler: Euler, seeds: [1, 2], lora: face_v2, "
           "lora_weight: -0.5}\n")));
  ASSERT_EQ(renders.size(), 2u);
  EXPECT_EQ(renders[1].loras.at(0).ref, kFaceV2);
  EXPECT_EQ(renders[1].loras.at(0).weight, -0.5);
}

TEST(ExpandLoraFilesTest, WeightZeroRendersOnceWithoutLora) {
  auto sweep = ExpandOrFail(
      Spec(std::string(kLoras) + kRender +
           "grid:\n  lora: [face_v1, face_v2]\n  lora_weight: [0, 0.8]\n  cfg: [5, 7]\n"));
  // 2 files x weight 0.8 x 2 cfg, plus one baseline per cfg.
  EXPECT_EQ(sweep.count.render, 6);
  auto renders = Renders(sweep);
  ASSERT_EQ(renders.size(), 6u);
  EXPECT_TRUE(renders[0].loras.empty());
  EXPECT_TRUE(renders[1].loras.empty());
  EXPECT_EQ(renders[2].loras.at(0).ref, kFaceV1);
  EXPECT_EQ(renders[4].loras.at(0).ref, kFaceV2);
  ASSERT_EQ(sweep.value_counts[0].name, "lora");
  const auto& counts = sweep.value_counts[0].counts;
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[0].value, "none");
  EXPECT_EQ(counts[0].renders, 2);
  EXPECT_EQ(counts[1].value, "face_v1");
  EXPECT_EQ(counts[1].renders, 2);
  EXPECT_EQ(counts[2].value, "face_v2");
  EXPECT_EQ(counts[2].renders, 2);
}

// ExpandOrFail checks CountJobs against the expansion; these tie lora to other
// parameters (zip, by:, exclude) so that the weight-0 collapse must look at values.
TEST(ExpandLoraFilesTest, CountsMatchExpansion) {
  struct Case {
    std::string grid;
    std::int64_t renders;
  };
  const std::vector<Case> cases = {
      {"grid:\n  lora: [face_v1, face_v2]\n  lora_weight: [0, 1]\n  cfg: [5, 5.0]\n"
       "zip: [[lora, cfg]]\n",
       3},
      {"grid:\n  lora: [face_v1, face_v2]\n  lora_weight: [0, 1]\n"
       "  cfg: {by: lora, values: {face_v1: [5, 7], face_v2: [7, 9]}}\n",
       7},
      {"grid:\n  lora: [face_v1, face_v2]\n"
       "  lora_weight: {by: lora, values: {face_v1: [0, 1], face_v2: [0, 0.5]}}\n",
       3},
      {"grid:\n  lora: [face_v1, face_v2]\n  lora_weight: [0, 1]\n  cfg: [5, 7]\n"
       "exclude:\n  - {lora: face_v2, cfg: 7}\n",
       5},
  };
  for (const Case& c : cases) {
    auto sweep = ExpandOrFail(Spec(std::string(kLoras) + kRender + c.grid + "score: {}\n"));
    EXPECT_EQ(sweep.count.render, c.renders) << c.grid;
    EXPECT_EQ(sweep.count.score, c.renders) << c.grid;
  }
}

TEST(ExpandLoraFilesTest, OnlyFilesSomeRenderCarriesAreResolved) {
  SweepSpec spec = ParseOrFail(
      Spec("loras:\n  a: a.safetensors\n  b: b.safetensors\n  c: c.safetensors\n" +
           std::string(kRender) +
           "grid:\n  lora: [a, b]\n  lora_weight: {by: lora, values: {a: [1], b: [0]}}\n"));
  FakeResolver resolver;
  auto expanded = ExpandSweep(spec, resolver);
  ASSERT_TRUE(expanded.ok()) << expanded.status().message();
  EXPECT_EQ(resolver.model_calls, 2);  // the checkpoint and a; b only at weight 0, c unused
  auto renders = Renders(*expanded);
  ASSERT_EQ(renders.size(), 2u);
  EXPECT_EQ(renders[0].loras.at(0).ref, "sha256:" + Sha256Hex("model:a.safetensors"));
  EXPECT_TRUE(renders[1].loras.empty());
}

TEST(ExpandLoraFilesTest, ResolverErrorsNameTheEntry) {
  SweepSpec spec =
      ParseOrFail(Spec(std::string(kLoras) + kRender + "grid:\n  lora: [face_v2, face_v1]\n"));
  FakeResolver resolver;
  resolver.failures["models:/loras/face_v1.safetensors"] =
      NotFound("no file models:/loras/face_v1.safetensors");
  auto expanded = ExpandSweep(spec, resolver);
  ASSERT_FALSE(expanded.ok());
  EXPECT_EQ(expanded.status().code(), StatusCode::kNotFound);
  EXPECT_NE(expanded.status().message().find("loras.face_v1"), std::string::npos)
      << expanded.status().message();
  EXPECT_NE(expanded.status().message().find("no file models:/loras/face_v1.safetensors"),
            std::string::npos);
}

}  // namespace
}  // namespace farm::sweep
