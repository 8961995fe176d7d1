// Tone and pipeline presets: the repository's files parse to what DESIGN.md says, and
// bad preset files are reported like bad specs.
#include <gtest/gtest.h>

#include "sweep_test_util.h"

namespace farm::sweep {
namespace {

using testing::ReadFileOrDie;
using testing::SourceDir;

class RepoPresetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (SourceDir().empty()) GTEST_SKIP() << "FARM_SOURCE_DIR is not set";
  }
};

TEST_F(RepoPresetsTest, TonesMatchTheFirstAuthorsSettings) {
  auto tones =
      ParseTonePresets(ReadFileOrDie(SourceDir() + "/farm_configs/tones.yaml"), "tones.yaml");
  ASSERT_TRUE(tones.ok()) << tones.status().message();
  const TonePreset& warm = tones->at("warm");
  EXPECT_EQ(warm.samplers, (std::vector<std::string>{"Euler", "DPM++ SDE Karras"}));
  EXPECT_NE(warm.prompt.find("golden"), std::string::npos);
  EXPECT_NE(warm.prompt.find("orange"), std::string::npos);
  EXPECT_GT(warm.white_balance_shift, 0);
  const TonePreset& cool = tones->at("cool");
  EXPECT_EQ(cool.samplers, (std::vector<std::string>{"Euler a", "DPM++ 2M Karras"}));
  EXPECT_NE(cool.prompt.find("bluish"), std::string::npos);
  EXPECT_LT(cool.white_balance_shift, 0);
}

TEST_F(RepoPresetsTest, PipelinesParse) {
  auto pipelines = ParsePipelinePresets(ReadFileOrDie(SourceDir() + "/farm_configs/pipelines.yaml"),
                                        "pipelines.yaml");
  ASSERT_TRUE(pipelines.ok()) << pipelines.status().message();
  const auto& studio = pipelines->at("studio");
  std::vector<std::string> kinds;
  for (const StageSettings& s : studio) kinds.push_back(s.kind);
  EXPECT_EQ(kinds,
            (std::vector<std::string>{"detailer", "img2img", "detailer", "upscale", "tone"}));
  EXPECT_EQ(std::get<double>(studio[1].settings.at("denoise")), 0.35);
  // Integers written for number settings are stored as numbers, so hashes are stable.
  EXPECT_EQ(std::get<double>(studio[3].settings.at("scale")), 2.0);
  EXPECT_TRUE(pipelines->at("fast").empty());
}

struct BadPreset {
  std::string name;
  std::string yaml;
  std::string expected;  // the whole diagnostic
};

TEST(TonePresetsTest, ReportsEveryProblem) {
  const std::string yaml =
      "tones:\n"
      "  warm:\n"
      "    prompt: golden light\n"
      "    samplers: [Euler, DPM++ SDE Karas]\n"
      "    grade: {white_balance_shift: 9000, saturaton: 1.1}\n"
      "  cool:\n"
      "    samplers: [Euler a]\n";
  std::vector<Diagnostic> d = CheckTonePresets(yaml, "tones.yaml", nullptr);
  ASSERT_EQ(d.size(), 4u) << FormatDiagnostics(d);
  EXPECT_TRUE(d[0].ToString().starts_with(
      "tones.yaml:4:23: tones.warm.samplers[1]: unknown sampler 'DPM++ SDE Karas'; "
      "expected one of: Euler, "))
      << d[0].ToString();
  EXPECT_TRUE(d[0].message.ends_with("; did you mean 'DPM++ SDE Karras'?")) << d[0].message;
  EXPECT_EQ(d[1].ToString(),
            "tones.yaml:5:34: tones.warm.grade.white_balance_shift: 9000 is out of range; "
            "expected a number in [-5000, 5000]");
  EXPECT_EQ(d[2].path, "tones.warm.grade.saturaton");
  EXPECT_NE(d[2].message.find("did you mean 'saturation'?"), std::string::npos);
  EXPECT_EQ(d[3].ToString(),
            "tones.yaml:7:5: tones.cool.prompt: missing required key; expected the tone's "
            "prompt words");
}

TEST(TonePresetsTest, StructuralErrors) {
  const std::vector<BadPreset> cases = {
      {"NotTones", "tone:\n  warm: {prompt: x}\n",
       "t.yaml:1:1: tone: unknown key 'tone'; expected one of: tones; did you mean 'tones'?"},
      {"Missing", "{}\n",
       "t.yaml:1:1: tones: missing required key; expected a mapping "
       "'tones:' at the top level"},
      {"ListNotMap", "tones: [warm]\n",
       "t.yaml:1:8: tones: got a list; expected a mapping (key: value)"},
      {"BadName", "tones:\n  Warm Light: {prompt: x}\n",
       "t.yaml:2:3: tones.Warm Light: bad tone name 'Warm Light'; expected lower-case "
       "letters, digits, '_', '-'"},
      {"Syntax", "tones:\n  warm: {prompt: x\n", ""},
  };
  for (const BadPreset& c : cases) {
    TonePresets out;
    std::vector<Diagnostic> d = CheckTonePresets(c.yaml, "t.yaml", &out);
    ASSERT_FALSE(d.empty()) << c.name;
    if (!c.expected.empty()) {
      EXPECT_EQ(d[0].ToString(), c.expected) << c.name;
    }
    EXPECT_TRUE(out.empty()) << c.name;
  }
}

TEST(PipelinePresetsTest, ReportsBadStages) {
  const std::string yaml =
      "pipelines:\n"
      "  studio:\n"
      "    - stage: upscaler\n"
      "    - {stage: img2img, settings: {denoise: 1.5}}\n";
  auto presets = ParsePipelinePresets(yaml, "pipelines.yaml");
  ASSERT_FALSE(presets.ok());
  EXPECT_EQ(presets.status().message(),
            "pipelines.yaml:3:14: pipelines.studio[0].stage: unknown stage kind 'upscaler'; "
            "expected one of: detailer, img2img, upscale, tone; did you mean 'upscale'?\n"
            "pipelines.yaml:4:44: pipelines.studio[1].settings.denoise: 1.5 is out of range; "
            "expected a number in (0, 1]");
}

TEST(SpecTonesTest, InlineToneMustBeCompleteWhenNew) {
  std::string yaml = std::string(testing::kSpecHeader) +
                     "tones:\n  teal: {samplers: [Euler]}\n"
                     "render: {prompt: '{token}', sampler: Euler, seeds: [1]}\n";
  std::vector<Diagnostic> d = testing::Diagnose(yaml);
  ASSERT_EQ(d.size(), 1u) << FormatDiagnostics(d);
  EXPECT_EQ(d[0].path, "tones.teal.prompt");
  EXPECT_EQ(d[0].line, 5);
}

}  // namespace
}  // namespace farm::sweep
