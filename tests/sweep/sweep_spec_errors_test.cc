// Bad specs: each is rejected with a diagnostic that names its place (line:column), its
// key path and what was wrong; all problems are reported, in document order.
#include <gtest/gtest.h>

#include "sweep_test_util.h"

namespace farm::sweep {
namespace {

using testing::Diagnose;
using testing::kSpecHeader;

// Lines 4-7 of a spec after kSpecHeader: a valid render section.
const char kRender[] =
    "render:\n"
    "  prompt: 'photo of {token}'\n"
    "  sampler: Euler\n"
    "  seeds: [1]\n";

struct BadSpec {
  std::string name;
  std::string body;  // after kSpecHeader (its first line is line 4)
  int line;
  int column;
  std::string path;
  std::vector<std::string> fragments;  // all must occur in the message
};

std::string R(const std::string& extra) { return kRender + extra; }

const std::vector<BadSpec>& Cases() {
  static const std::vector<BadSpec> kCases = {
      {"UnknownRootKey",
       R("gird:\n  cfg: [5]\n"),
       8,
       1,
       "gird",
       {"unknown key 'gird'", "expected one of: name,", "did you mean 'grid'?"}},
      {"UnknownKeyInRender",
       R("  smapler: Euler a\n"),
       8,
       3,
       "render.smapler",
       {"unknown key 'smapler'", "did you mean 'sampler'?"}},
      {"WrongType",
       R("  cfg: high\n"),
       8,
       8,
       "render.cfg",
       {"got 'high'", "expected a number in [1, 30]"}},
      {"QuotedNumberIsAString",
       R("  clip_skip: '2'\n"),
       8,
       14,
       "render.clip_skip",
       {"got '2'", "expected an integer in [1, 12]"}},
      {"NegativeTrainSteps",
       "train:\n  steps: [800, -5]\n" + R(""),
       5,
       16,
       "train.steps[1]",
       {"-5 is out of range", "expected an integer in [1, 100000]"}},
      {"ZeroSamplingSteps",
       R("grid:\n  steps: [0, 20]\n"),
       9,
       11,
       "grid.steps[0]",
       {"0 is out of range", "expected an integer in [1, 150]"}},
      {"CfgOutOfRange",
       R("  cfg: 45\n"),
       8,
       8,
       "render.cfg",
       {"45 is out of range", "expected a number in [1, 30]"}},
      {"SizeNotMultipleOf8",
       R("  size: 500x768\n"),
       8,
       9,
       "render.size",
       {"width 500 is not a multiple of 8", "expected WIDTHxHEIGHT"}},
      {"SizeNotWxH",
       R("  size: 512*768\n"),
       8,
       9,
       "render.size",
       {"'512*768' is not WIDTHxHEIGHT", "e.g. '512x768'"}},
      {"UnknownSampler",
       "render:\n  prompt: 'photo of {token}'\n  sampler: DPM++ 2M Karas\n  seeds: [1]\n",
       6,
       12,
       "render.sampler",
       {"unknown sampler 'DPM++ 2M Karas'", "expected one of:", "did you mean 'DPM++ 2M Karras'?"}},
      {"DependentKeyedByUnknownTone",
       "render: {prompt: 'photo of {token}, {tone}', seeds: [1]}\n"
       "grid:\n"
       "  tone: [warm, cool]\n"
       "  sampler:\n"
       "    by: tone\n"
       "    values:\n"
       "      warm: [Euler]\n"
       "      cool: [Euler a]\n"
       "      neutral: [Euler]\n",
       12,
       7,
       "grid.sampler.values.neutral",
       {"'neutral' is not among grid.tone's values", "expected one of: warm, cool"}},
      {"DependentMissingAParentValue",
       "render: {prompt: 'photo of {token}, {tone}', seeds: [1]}\n"
       "grid:\n"
       "  tone: [warm, cool]\n"
       "  sampler: {by: tone, values: {warm: [Euler]}}\n",
       7,
       31,
       "grid.sampler.values",
       {"no values for tone 'cool'"}},
      {"ByNamesANonGridParameter",
       "render: {prompt: 'photo of {token}, {tone}', seeds: [1]}\n"
       "grid:\n"
       "  tone: [warm, cool]\n"
       "  sampler: {by: ton, values: {warm: [Euler], cool: [Euler a]}}\n",
       7,
       17,
       "grid.sampler.by",
       {"'ton' is not a grid parameter", "expected one of: tone", "did you mean 'tone'?"}},
      {"ZipUnequalLengths",
       R("grid:\n  cfg: [5, 7, 9]\n  clip_skip: [1, 2]\nzip:\n  - [cfg, clip_skip]\n"),
       12,
       5,
       "zip[0]",
       {"unequal lengths (cfg has 3, clip_skip has 2)"}},
      {"ZipDependentParameter",
       "render: {prompt: 'photo of {token}, {tone}', seeds: [1]}\n"
       "grid:\n  tone: [warm, cool]\n  sampler: {by: tone}\n  cfg: [5, 7]\n"
       "zip: [[sampler, cfg]]\n",
       9,
       8,
       "zip[0][0]",
       {"'sampler' depends on 'tone' and cannot be zipped"}},
      {"ExcludeUnknownParameter",
       R("grid:\n  cfg: [5, 7]\nexclude:\n  - {cgf: 5}\n"),
       11,
       6,
       "exclude[0].cgf",
       {"'cgf' is not a grid parameter", "did you mean 'cfg'?"}},
      {"ExcludeValueNeverOccurs",
       R("grid:\n  cfg: [5, 7]\nexclude:\n  - {cfg: 6}\n"),
       11,
       11,
       "exclude[0].cfg",
       {"6 never occurs in the sweep", "expected one of: 5, 7"}},
      {"ExcludeEverything",
       R("grid:\n  cfg: [5, 7]\nexclude:\n  - {cfg: [5, 7]}\n"),
       11,
       3,
       "exclude",
       {"every combination is excluded"}},
      {"EmptyGridList",
       R("grid:\n  cfg: []\n"),
       9,
       8,
       "grid.cfg",
       {"empty list; expected at least one value"}},
      {"SeedsCountZero",
       "render:\n  prompt: 'photo of {token}'\n  sampler: Euler\n  seeds: {base: 10, count: 0}\n",
       7,
       28,
       "render.seeds.count",
       {"0 is out of range", "expected an integer in [1, 1000000]"}},
      {"DuplicateKey",
       R("  sampler: Euler a\n"),
       8,
       3,
       "render.sampler",
       {"duplicate key (first at line 6)"}},
      {"DuplicateGridValue",
       R("grid:\n  cfg: [7, 7.0]\n"),
       9,
       12,
       "grid.cfg[1]",
       {"duplicate value 7"}},
      {"MissingRequiredSection", "", 1, 1, "render", {"missing required key", "render:"}},
      {"MissingSampler",
       "render:\n  prompt: 'photo of {token}'\n  seeds: [1]\n",
       5,
       3,
       "render.sampler",
       {"missing required key", "a sampler in render: or grid:"}},
      {"UnknownStageKind",
       R("pipeline:\n  - stage: detaler\n"),
       9,
       12,
       "pipeline[0].stage",
       {"unknown stage kind 'detaler'", "did you mean 'detailer'?"}},
      {"UnknownStageSetting",
       R("pipeline:\n  - {stage: img2img, settings: {denoize: 0.3}}\n"),
       9,
       33,
       "pipeline[0].settings.denoize",
       {"unknown key 'denoize'", "did you mean 'denoise'?"}},
      {"UnknownStageEnumValue",
       R("pipeline:\n  - {stage: upscale, settings: {mode: tilde}}\n"),
       9,
       39,
       "pipeline[0].settings.mode",
       {"unknown value 'tilde'", "expected one of: resize, tiled", "did you mean 'tiled'?"}},
      {"UnknownPipelinePreset",
       R("pipeline: studoi\n"),
       8,
       11,
       "pipeline",
       {"unknown pipeline preset 'studoi'", "did you mean 'studio'?"}},
      {"UnknownPlaceholder",
       "render:\n  prompt: 'photo of {tokn}'\n  sampler: Euler\n  seeds: [1]\n",
       5,
       11,
       "render.prompt",
       {"unknown placeholder '{tokn}'", "did you mean 'token'?"}},
      {"ToneUsedButNotChosen",
       "render:\n  prompt: 'photo of {token}, {tone}'\n  sampler: Euler\n  seeds: [1]\n",
       5,
       11,
       "render.prompt",
       {"uses {tone} but no tone is chosen"}},
      {"DenoiseOutOfRange",
       R("grid:\n  denoise: [0, 0.5]\npipeline: [{stage: img2img}]\n"),
       9,
       13,
       "grid.denoise[0]",
       {"0 is out of range", "expected a number in (0, 1]"}},
      {"DenoiseWithoutImg2img",
       R("grid:\n  denoise: [0.3]\n"),
       9,
       3,
       "grid.denoise",
       {"no img2img stage"}},
      {"ClipSkipOutOfRange",
       R("  clip_skip: 13\n"),
       8,
       14,
       "render.clip_skip",
       {"13 is out of range", "expected an integer in [1, 12]"}},
      {"UnknownToneWithSuggestion",
       "render: {prompt: 'photo of {token}, {tone}', sampler: Euler, seeds: [1]}\n"
       "grid:\n  tone: [warm, cold]\n",
       6,
       16,
       "grid.tone[1]",
       {"unknown tone 'cold'", "did you mean 'cool'?"}},
      {"SetInRenderAndGrid",
       R("  cfg: 7\ngrid:\n  cfg: [5, 9]\n"),
       10,
       3,
       "grid.cfg",
       {"set in both render: (line 8) and grid:"}},
      {"LoraWeightWithoutTrain",
       R("grid:\n  lora_weight: [0.5, 1]\n"),
       9,
       3,
       "grid.lora_weight",
       {"without a train: section or a loras: section"}},
      {"LoraWeightOutOfRangeWithLoras",
       "loras: {face: f.safetensors}\n" + R("grid:\n  lora_weight: [0.5, 3]\n"),
       10,
       22,
       "grid.lora_weight[1]",
       {"3 is out of range", "expected a number in [-2, 2]"}},
      {"LorasWithTrain",
       "train: {steps: [800]}\nloras: {face: {path: face.safetensors}}\n" + R(""),
       5,
       1,
       "loras",
       {"given together with train: (line 4)", "expected one or the other"}},
      {"LoraWithoutLoras",
       R("  lora: face\n"),
       8,
       3,
       "render.lora",
       {"the spec has no loras: section", "expected loras:"}},
      {"UnknownLoraInGrid",
       "loras:\n  face_v1: {path: a.safetensors}\n  face_v2: {path: b.safetensors}\n" +
           R("grid:\n  lora: [face_v1, face_v3]\n"),
       12,
       19,
       "grid.lora[1]",
       {"unknown LoRA 'face_v3'", "expected one of: face_v1, face_v2 (the entries of loras:)",
        "did you mean 'face_v1'?"}},
      {"UnknownLoraInRender",
       "loras: {face: face.safetensors}\n" + R("  lora: fcae\n"),
       9,
       9,
       "render.lora",
       {"unknown LoRA 'fcae'", "did you mean 'face'?"}},
      {"UnknownLoraInExclude",
       "loras:\n  face_v1: a.safetensors\n  face_v2: b.safetensors\n" +
           R("grid:\n  lora: [face_v1, face_v2]\nexclude:\n  - {lora: face_v3}\n"),
       14,
       12,
       "exclude[0].lora",
       {"unknown LoRA 'face_v3'", "did you mean 'face_v1'?"}},
      {"SeveralLorasAndNoLoraChosen",
       "loras:\n  a1: a1.safetensors\n  b2: b2.safetensors\n" + R(""),
       8,
       3,
       "render.lora",
       {"missing required key", "naming one of the 2 entries of loras: a1, b2"}},
      {"BadLoraName",
       "loras:\n  'face v1': a.safetensors\n" + R(""),
       5,
       3,
       "loras.face v1",
       {"bad LoRA name 'face v1'", "expected letters, digits"}},
      {"EmptyLoras",
       "loras: {}\n" + R(""),
       4,
       8,
       "loras",
       {"no LoRA files", "expected at least one entry"}},
      {"LoraRefBadSha256",
       "loras:\n  face: {sha256: ABC}\n" + R(""),
       5,
       18,
       "loras.face.sha256",
       {"'ABC' is not a SHA-256", "expected 64 lower-case hex digits"}},
      {"LoraRefUnknownKey",
       "loras:\n  face: {path: a.safetensors, sha265: x}\n" + R(""),
       5,
       31,
       "loras.face.sha265",
       {"unknown key 'sha265'", "expected one of: path, sha256", "did you mean 'sha256'?"}},
      {"TwoLorasOneFile",
       "loras:\n  a: x.safetensors\n  b: x.safetensors\n" + R("grid:\n  lora: [a, b]\n"),
       6,
       6,
       "loras.b",
       {"the same path as loras.a", "expected each LoRA file once"}},
      {"RenderIsNotAMapping",
       "render: [1, 2]\n",
       4,
       9,
       "render",
       {"got a list; expected a mapping"}},
      {"BadScoreMetric",
       R("score: {metric: cosin}\n"),
       8,
       17,
       "score.metric",
       {"unknown metric 'cosin'", "expected cosine or euclidean"}},
      {"BadPoseName",
       R("  pose: Standing Up\n"),
       8,
       9,
       "render.pose",
       {"bad pose 'Standing Up'", "lower-case letters"}},
      {"EmptyValueIsPlacedAtItsKey",
       R("  cfg:\n"),
       8,
       3,
       "render.cfg",
       {"got nothing; expected a number in [1, 30]"}},
      {"DependsOnItself",
       R("grid:\n  cfg: {by: cfg}\n"),
       9,
       13,
       "grid.cfg.by",
       {"cannot depend on itself", "(the grid has no other)"}},
      {"TrainWithoutSteps",
       "train: {rank: 8}\n" + R(""),
       4,
       8,
       "train.steps",
       {"missing required key"}},
  };
  return kCases;
}

class BadSpecTest : public ::testing::TestWithParam<BadSpec> {};

TEST_P(BadSpecTest, ReportsPlacePathAndMessage) {
  const BadSpec& c = GetParam();
  std::vector<Diagnostic> diagnostics = Diagnose(kSpecHeader + c.body);
  ASSERT_EQ(diagnostics.size(), 1u) << FormatDiagnostics(diagnostics);
  const Diagnostic& d = diagnostics[0];
  EXPECT_EQ(d.file, "bad.yaml");
  EXPECT_EQ(d.line, c.line) << d.ToString();
  EXPECT_EQ(d.column, c.column) << d.ToString();
  EXPECT_EQ(d.path, c.path) << d.ToString();
  for (const std::string& fragment : c.fragments) {
    EXPECT_NE(d.message.find(fragment), std::string::npos)
        << "missing '" << fragment << "' in: " << d.ToString();
  }
}

INSTANTIATE_TEST_SUITE_P(Specs, BadSpecTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

TEST(SpecErrorsTest, SyntaxErrorUsesYamlMark) {
  // Line 6 is indented one space too far: its ':' is where yaml-cpp gives up.
  std::vector<Diagnostic> d =
      Diagnose(std::string(kSpecHeader) + "render:\n  prompt: x\n   sampler: Euler\n");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].ToString(), "bad.yaml:6:11: YAML syntax error: illegal map value");
}

TEST(SpecErrorsTest, UnclosedFlowMapping) {
  std::vector<Diagnostic> d = Diagnose(std::string(kSpecHeader) + "render: {prompt: x\n");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].ToString(), "bad.yaml:5:1: YAML syntax error: end of map flow not found");
}

TEST(SpecErrorsTest, EmptyFile) {
  std::vector<Diagnostic> d = Diagnose("");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].ToString(), "bad.yaml: the file is empty; expected a YAML mapping");
}

TEST(SpecErrorsTest, ReportsEveryProblemInDocumentOrder) {
  std::string yaml = std::string(kSpecHeader) +
                     "render:\n"                       // 4
                     "  prompt: 'photo of {token}'\n"  // 5
                     "  sampler: Eulr\n"               // 6
                     "  seeds: [1]\n"                  // 7
                     "  cfg: 0.5\n"                    // 8
                     "grid:\n"                         // 9
                     "  clip_skip: [0, 2]\n"           // 10
                     "priorty: 3\n";                   // 11
  std::vector<Diagnostic> d = Diagnose(yaml);
  ASSERT_EQ(d.size(), 4u) << FormatDiagnostics(d);
  EXPECT_EQ(d[0].path, "render.sampler");
  EXPECT_EQ(d[1].path, "render.cfg");
  EXPECT_EQ(d[2].path, "grid.clip_skip[0]");
  EXPECT_EQ(d[3].path, "priorty");
  EXPECT_NE(d[3].message.find("did you mean 'priority'?"), std::string::npos);
}

TEST(SpecErrorsTest, StatusListsDiagnosticsOnePerLine) {
  std::string yaml = std::string(kSpecHeader) + R("  cfg: 45\n  clip_skip: 0\n");
  auto spec = ParseSweepSpec(yaml, "experiments/x.yaml", testing::RepoPresets());
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(),
            "experiments/x.yaml:8:8: render.cfg: 45 is out of range; expected a number in "
            "[1, 30]\n"
            "experiments/x.yaml:9:14: render.clip_skip: 0 is out of range; expected an "
            "integer in [1, 12]");
}

TEST(SpecErrorsTest, CheckpointNeedsPathOrHash) {
  std::string yaml =
      "name: t\n"
      "identity: {name: alice, photos: p/*.jpg, token: sks person}\n"
      "checkpoint: {sha256: ABC}\n" +
      R("");
  std::vector<Diagnostic> d = Diagnose(yaml);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].ToString(),
            "bad.yaml:3:22: checkpoint.sha256: 'ABC' is not a SHA-256; expected 64 lower-case "
            "hex digits");
}

TEST(SpecErrorsTest, VaeNeedsPathOrHashLikeCheckpoint) {
  std::string yaml =
      "name: t\n"
      "identity: {name: alice, photos: p/*.jpg, token: sks person}\n"
      "checkpoint: {sha256: " + std::string(64, 'a') + "}\n"
      "vae: {sha256: ABC}\n" +
      R("");
  std::vector<Diagnostic> d = Diagnose(yaml);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].ToString(),
            "bad.yaml:4:15: vae.sha256: 'ABC' is not a SHA-256; expected 64 lower-case hex digits");
}

TEST(SpecErrorsTest, EmbeddingsNeedANameOnceAndAFileEach) {
  const std::string head =
      "name: t\n"
      "identity: {name: alice, photos: p/*.jpg, token: sks person}\n"
      "checkpoint: {sha256: " + std::string(64, 'a') + "}\n";
  std::vector<Diagnostic> d = Diagnose(head +
                                       "embeddings:\n"
                                       "  - ti/neg.safetensors\n"
                                       "  - {sha256: " + std::string(64, 'b') + "}\n"
                                       "  - {name: neg, path: other/neg.safetensors}\n"
                                       "  - {name: x, sha256: ABC}\n"
                                       "  - {name: 'a, b', path: y.safetensors}\n"
                                       "  - {name: z}\n" +
                                       R(""));
  ASSERT_EQ(d.size(), 5u);
  EXPECT_EQ(d[0].ToString(), "bad.yaml:6:5: embeddings[1].name: missing required key; expected the word that calls the "
                             "embedding in a prompt (a sha256 alone has no file name)");
  EXPECT_EQ(d[1].ToString(), "bad.yaml:7:12: embeddings[2]: embedding name 'neg' also names embeddings[0]; "
                             "expected each name once");
  EXPECT_EQ(d[2].ToString(), "bad.yaml:8:23: embeddings[3].sha256: 'ABC' is not a SHA-256; expected 64 lower-case "
                             "hex digits");
  EXPECT_EQ(d[3].ToString(), "bad.yaml:9:12: embeddings[4]: bad embedding name 'a, b'; expected a word without "
                             "commas or outer spaces");
  EXPECT_EQ(d[4].ToString().rfind("bad.yaml:10:5: embeddings[5].path: missing", 0), 0u) << d[4].ToString();

  const std::vector<Diagnostic> folder = Diagnose(head + "embeddings:\n  - {folder: ti, name: x}\n" + R(""));
  ASSERT_EQ(folder.size(), 1u);
  EXPECT_EQ(folder[0].ToString().rfind("bad.yaml:5:18: embeddings[0].name: unknown key", 0), 0u) << folder[0].ToString();

  EXPECT_EQ(Diagnose(head + "embeddings: ti/neg.safetensors\n" + R("")).at(0).ToString().rfind("bad.yaml:4:13: embeddings:", 0),
            0u);
}

TEST(SpecErrorsTest, IdentityPickIsLargestOnly) {
  auto spec_with = [](const std::string& pick) {
    return "name: t\n"
           "identity: {name: alice, photos: p/*.jpg, token: sks person, pick: " +
           pick + "}\ncheckpoint: {sha256: " + std::string(64, 'a') + "}\n" + R("");
  };
  std::vector<Diagnostic> d = Diagnose(spec_with("first"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].ToString(), "bad.yaml:2:67: identity.pick: unknown pick 'first'; expected largest");
  auto spec = ParseSweepSpec(spec_with("largest"), "ok.yaml", testing::RepoPresets());
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_TRUE(spec->identity.pick_largest);
}

TEST(SpecErrorsTest, NothingIsProducedForAnInvalidSpec) {
  SpecCheck check =
      CheckSweepSpec(std::string(kSpecHeader) + R("  cfg: 0\n"), "x.yaml", testing::RepoPresets());
  EXPECT_FALSE(check.spec.has_value());
  EXPECT_FALSE(check.diagnostics.empty());
}

}  // namespace
}  // namespace farm::sweep
