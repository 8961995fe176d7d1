// The infotext of a farm render from its params (what the PNG chunk and farmctl carry).
#include "farm/schemas/render_infotext.h"

#include <gtest/gtest.h>

namespace farm {
namespace {

RenderParams SampleParams() {
  RenderParams p;
  p.prompt = "portrait of sks person, studio light";
  p.negative_prompt = "blurry";
  p.seed = 42;
  p.sampler = "DPM++ 2M";
  p.scheduler = "karras";
  p.steps = 20;
  p.cfg = 6.5;
  p.clip_skip = 2;
  p.pose = "three_quarter";
  p.tone = "warm";
  p.checkpoint_sha256 = std::string(64, 'a');
  p.loras.push_back({"sha256:" + std::string(64, 'b'), 0.8});
  return p;
}

TEST(RenderInfotext, FieldsInA1111OrderThenTheFarms) {
  RenderInfotextNames names;
  names.model = "v1-5";
  names.loras = {"face"};
  names.final_width = 1024;
  names.final_height = 1536;
  const GenerationParameters params =
      RenderGenerationParameters(SampleParams(), names, "ph", "7").value();
  std::vector<std::string> keys;
  for (const auto& field : params.fields) keys.push_back(field.first);
  EXPECT_EQ(keys, (std::vector<std::string>{"Steps", "Sampler", "CFG scale", "Seed", "Size", "Model hash",
                                            "Model", "Clip skip", "Lora hashes", "Pose", "Tone", "RNG",
                                            "Version", "Final size", "StudioFarm params",
                                            "StudioFarm param_hash", "Render id"}));
  EXPECT_EQ(*params.Find("Sampler"), "DPM++ 2M Karras");
  EXPECT_EQ(*params.Find("CFG scale"), "6.5");
  EXPECT_EQ(*params.Find("Model hash"), "aaaaaaaaaa");
  EXPECT_EQ(*params.Find("Lora hashes"), "face: bbbbbbbbbbbb");
  EXPECT_EQ(*params.Find("Final size"), "1024x1536");
  EXPECT_EQ(*params.Find("StudioFarm params"), ToCanonicalJson(SampleParams()).value());
}

TEST(RenderInfotext, WithoutNamesLeavesModelAndFinalSizeOutAndNumbersLoras) {
  const GenerationParameters params =
      RenderGenerationParameters(SampleParams(), RenderInfotextNames{}, "ph", "7").value();
  EXPECT_EQ(params.Find("Model"), nullptr);
  EXPECT_EQ(params.Find("Final size"), nullptr);
  EXPECT_EQ(*params.Find("Lora hashes"), "lora0: bbbbbbbbbbbb");
  const std::string text = FormatParameters(params).value();
  EXPECT_EQ(text.substr(0, text.find("\nSteps: ")),
            "portrait of sks person, studio light\nNegative prompt: blurry");
  EXPECT_NE(text.find("\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 42, Size: 512x768, "
                      "Model hash: aaaaaaaaaa, Clip skip: 2, Lora hashes: \"lora0: bbbbbbbbbbbb\", "
                      "Pose: three_quarter, Tone: warm, RNG: CPU, Version: studiofarm-sd/1, "),
            std::string::npos)
      << text;
  // What a front end reads back is what was written.
  const GenerationParameters back = ParseParameters(text);
  EXPECT_EQ(back.prompt, params.prompt);
  EXPECT_EQ(back.negative_prompt, params.negative_prompt);
  EXPECT_EQ(back.fields, params.fields);
}

TEST(RenderInfotext, SeparateVaeWritesItsShortHashAfterModel) {
  RenderParams p = SampleParams();
  EXPECT_EQ(RenderGenerationParameters(p, RenderInfotextNames{}, "ph", "7").value().Find("VAE hash"), nullptr);
  p.vae_sha256 = "735e4c3a447a3255760d7f86845f09f937809baa529c17370d83e4c3758f3c75";
  RenderInfotextNames names;
  names.model = "v1-5";
  const GenerationParameters params = RenderGenerationParameters(p, names, "ph", "7").value();
  ASSERT_NE(params.Find("VAE hash"), nullptr);
  EXPECT_EQ(*params.Find("VAE hash"), "735e4c3a44");
  const std::string text = FormatParameters(params).value();
  EXPECT_NE(text.find("Model hash: aaaaaaaaaa, Model: v1-5, VAE hash: 735e4c3a44, Clip skip: 2, "), std::string::npos)
      << text;
}

TEST(RenderInfotext, EmbeddingsWriteTiHashesOfThoseUsedAfterLoraHashes) {
  RenderParams p = SampleParams();
  EXPECT_EQ(RenderGenerationParameters(p, RenderInfotextNames{}, "ph", "7").value().Find("TI hashes"), nullptr);
  p.embeddings["EasyNegative"] = "c74b4e810b030aa5fc4b0e7c3d8ac4f4e5ad1ab5a1e3a0b4ed0bd2d8b7cfb0b3";
  p.embeddings["odd:name,1"] = std::string(64, 'd');
  p.embeddings["unused"] = std::string(64, 'e');
  RenderInfotextNames names;
  names.loras = {"face"};
  names.embeddings_used = std::vector<std::string>{"odd:name,1", "EasyNegative"};
  const GenerationParameters params = RenderGenerationParameters(p, names, "ph", "7").value();
  ASSERT_NE(params.Find("TI hashes"), nullptr);
  // A1111: the first 12 hex digits, ':' and ',' taken out of names, quoted in the text.
  EXPECT_EQ(*params.Find("TI hashes"), "EasyNegative: c74b4e810b03, oddname1: dddddddddddd");
  const std::string text = FormatParameters(params).value();
  EXPECT_NE(text.find(R"(Lora hashes: "face: bbbbbbbbbbbb", TI hashes: "EasyNegative: c74b4e810b03, )"
                      R"(oddname1: dddddddddddd", Pose: )"),
            std::string::npos)
      << text;
  const GenerationParameters back = ParseParameters(text);
  ASSERT_NE(back.Find("TI hashes"), nullptr);
  EXPECT_EQ(*back.Find("TI hashes"), *params.Find("TI hashes"));

  // Without the names used, every embedding of the record is listed.
  const GenerationParameters all = RenderGenerationParameters(p, RenderInfotextNames{}, "ph", "7").value();
  EXPECT_NE(all.Find("TI hashes")->find("unused: eeeeeeeeeeee"), std::string::npos);
}

}  // namespace
}  // namespace farm
