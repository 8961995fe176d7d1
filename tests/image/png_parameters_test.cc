// The `parameters` chunk: A1111 infotext format and parse, and PNG files carrying it.
#include "farm/image/png_parameters.h"

#include <gtest/gtest.h>

#include "farm/image/png_io.h"
#include "farm/image/png_text.h"

namespace farm::image {
namespace {

Image TestImage() {
  Image image = MakeImage(8, 6, 3).value();
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 7);
  return image;
}

RenderInfotext SampleRender() {
  RenderInfotext info;
  info.prompt = "professional studio portrait photo of sks person, standing, warm golden light";
  info.negative_prompt = "blurry, lowres, deformed";
  info.steps = 25;
  info.sampler = "DPM++ 2M Karras";
  info.cfg_scale = 7;
  info.seed = 1234;
  info.width = 512;
  info.height = 768;
  info.model_hash = "abcdef1234";
  info.model = "v1-5-pruned-emaonly";
  info.clip_skip = 2;
  info.loras = {{"subject01", "0123456789ab"}};
  info.param_hash = "9f86d081884c7d65";
  info.render_id = "r-42";
  return info;
}

TEST(InfotextTest, FormatsTheA1111Layout) {
  StatusOr<std::string> text = FormatParameters(ToGenerationParameters(SampleRender()));
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text,
            "professional studio portrait photo of sks person, standing, warm golden light\n"
            "Negative prompt: blurry, lowres, deformed\n"
            "Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 512x768, "
            "Model hash: abcdef1234, Model: v1-5-pruned-emaonly, Clip skip: 2, "
            "Lora hashes: \"subject01: 0123456789ab\", StudioFarm param_hash: 9f86d081884c7d65, "
            "Render id: r-42");
}

TEST(InfotextTest, RoundTripsTheRenderFields) {
  const GenerationParameters params = ToGenerationParameters(SampleRender());
  const GenerationParameters back = ParseParameters(FormatParameters(params).value());
  EXPECT_EQ(back.prompt, params.prompt);
  EXPECT_EQ(back.negative_prompt, params.negative_prompt);
  EXPECT_EQ(back.fields, params.fields);
  ASSERT_NE(back.Find("Lora hashes"), nullptr);
  EXPECT_EQ(*back.Find("Lora hashes"), "subject01: 0123456789ab");
  int w = 0, h = 0;
  ASSERT_TRUE(ParseSizeValue(*back.Find("Size"), &w, &h));
  EXPECT_EQ(w, 512);
  EXPECT_EQ(h, 768);
}

TEST(InfotextTest, RoundTripsAwkwardPromptsAndValues) {
  GenerationParameters params;
  params.prompt = "line one, with commas\n(quoted \"words\":1.2)\nthird: line";
  params.negative_prompt = "neg one\nneg two, \"quoted\"";
  params.fields = {{"Steps", "30"},
                   {"Sampler", "Euler a"},
                   {"Comma value", "a, b, c"},
                   {"Quote value", "say \"hi\""},
                   {"Colon value", "k: v"},
                   {"Newline value", "x\ny"},
                   {"Backslash", "C:\\models\\x"},
                   {"Edge spaces", "  padded "},
                   {"Unicode", "café ☕"},
                   {"Empty", ""},
                   {"Starts with quote", "\"half"},
                   {"Dash-and/slash key", "1"}};
  StatusOr<std::string> text = FormatParameters(params);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  const GenerationParameters back = ParseParameters(*text);
  EXPECT_EQ(back.prompt, params.prompt);
  EXPECT_EQ(back.negative_prompt, params.negative_prompt);
  EXPECT_EQ(back.fields, params.fields);
}

TEST(InfotextTest, MissingNegativePromptHasNoLine) {
  GenerationParameters params;
  params.prompt = "a portrait\nsecond line";
  params.fields = {{"Steps", "20"}, {"Sampler", "Euler"}, {"Seed", "1"}};
  const std::string text = FormatParameters(params).value();
  EXPECT_EQ(text, "a portrait\nsecond line\nSteps: 20, Sampler: Euler, Seed: 1");
  const GenerationParameters back = ParseParameters(text);
  EXPECT_EQ(back.prompt, "a portrait\nsecond line");
  EXPECT_EQ(back.negative_prompt, "");
  EXPECT_EQ(back.fields, params.fields);
}

TEST(InfotextTest, ParsesFrontEndText) {
  // As A1111 writes it; a front end's own fields are kept in order.
  const GenerationParameters p = ParseParameters(
      "masterpiece, 1girl, <lora:x:1>\n"
      "Negative prompt: (worst quality:1.4), watermark\n"
      "Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 2179987202, Size: 768x512, "
      "Model hash: 93b79e09ed, Model: anything-v4.5, Denoising strength: 0.5, Clip skip: 2, "
      "Hires upscaler: Latent, Lora hashes: \"x: 1a2b3c4d5e6f, y: 0f0f0f0f0f0f\", "
      "Version: v1.6.0\n");
  EXPECT_EQ(p.prompt, "masterpiece, 1girl, <lora:x:1>");
  EXPECT_EQ(p.negative_prompt, "(worst quality:1.4), watermark");
  ASSERT_EQ(p.fields.size(), 12u);
  EXPECT_EQ(p.fields[0], (std::pair<std::string, std::string>{"Steps", "20"}));
  EXPECT_EQ(*p.Find("CFG scale"), "7.5");
  EXPECT_EQ(*p.Find("Lora hashes"), "x: 1a2b3c4d5e6f, y: 0f0f0f0f0f0f");
  EXPECT_EQ(p.fields.back().first, "Version");
}

TEST(InfotextTest, FewerThanThreePairsAreReadAsPrompt) {
  const GenerationParameters p = ParseParameters("just a prompt\nSteps: 20, Seed: 3");
  EXPECT_EQ(p.prompt, "just a prompt\nSteps: 20, Seed: 3");
  EXPECT_TRUE(p.fields.empty());
  EXPECT_TRUE(ParseParameters("").fields.empty());
}

TEST(InfotextTest, FormatRefusesWhatWouldNotReadBack) {
  GenerationParameters params;
  params.prompt = "p";
  params.fields = {{"Steps", "20"}, {"Seed", "1"}};
  EXPECT_EQ(FormatParameters(params).status().code(), StatusCode::kInvalidArgument);
  params.fields.emplace_back("Bad:key", "1");
  EXPECT_EQ(FormatParameters(params).status().code(), StatusCode::kInvalidArgument);
  params.fields.back().first = "x";  // one character is too short
  EXPECT_EQ(FormatParameters(params).status().code(), StatusCode::kInvalidArgument);
  params.fields.back().first = "Fine key";
  EXPECT_TRUE(FormatParameters(params).ok());
  params.prompt = "a\nNegative prompt: b";
  EXPECT_EQ(FormatParameters(params).status().code(), StatusCode::kInvalidArgument);
  params.prompt = "p";
  params.negative_prompt = "n\n Negative prompt: again";
  EXPECT_EQ(FormatParameters(params).status().code(), StatusCode::kInvalidArgument);
  params.negative_prompt = "";
  params.prompt = "bad utf8 \xff";
  EXPECT_EQ(FormatParameters(params).status().code(), StatusCode::kInvalidArgument);
}

TEST(InfotextTest, FormatsNumbersShortest) {
  EXPECT_EQ(FormatNumber(7), "7");
  EXPECT_EQ(FormatNumber(7.5), "7.5");
  EXPECT_EQ(FormatNumber(0.1), "0.1");
  int w = 0, h = 0;
  EXPECT_FALSE(ParseSizeValue("512", &w, &h));
  EXPECT_FALSE(ParseSizeValue("512x-3", &w, &h));
  EXPECT_FALSE(ParseSizeValue("x768", &w, &h));
}

TEST(PngParametersTest, RoundTripsThroughPngBytes) {
  const Image image = TestImage();
  const GenerationParameters params = ToGenerationParameters(SampleRender());
  StatusOr<std::string> png = EncodePngWithParameters(image, params);
  ASSERT_TRUE(png.ok()) << png.status().ToString();
  // The chunk sits right after IHDR (8 signature + 25 IHDR bytes) as tEXt.
  EXPECT_EQ(png->substr(33 + 4, 4), "tEXt");
  EXPECT_EQ(png->substr(33 + 8, 11), std::string("parameters\0", 11));

  StatusOr<std::optional<GenerationParameters>> back = ReadPngParameters(*png);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ((*back)->prompt, params.prompt);
  EXPECT_EQ((*back)->fields, params.fields);

  StatusOr<Image> pixels = DecodePng(*png);
  ASSERT_TRUE(pixels.ok()) << pixels.status().ToString();
  EXPECT_EQ(pixels->pixels, image.pixels);
}

TEST(PngParametersTest, NonLatin1TextGoesToITXt) {
  GenerationParameters params;
  params.prompt = "портрет, 肖像";
  params.negative_prompt = "размыто";
  params.fields = {{"Steps", "20"}, {"Sampler", "Euler"}, {"Seed", "7"}};
  const std::string png = EncodePngWithParameters(TestImage(), params).value();
  EXPECT_EQ(png.substr(33 + 4, 4), "iTXt");
  const std::optional<GenerationParameters> back = ReadPngParameters(png).value();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->prompt, params.prompt);
  EXPECT_EQ(back->negative_prompt, params.negative_prompt);
  // Latin-1 (é) stays tEXt and comes back as UTF-8.
  params.prompt = "café";
  params.negative_prompt = "flou";
  const std::string latin = EncodePngWithParameters(TestImage(), params).value();
  EXPECT_EQ(latin.substr(33 + 4, 4), "tEXt");
  EXPECT_EQ(ReadPngParameters(latin).value()->prompt, "café");
}

TEST(PngParametersTest, WritingAgainReplacesTheChunk) {
  GenerationParameters params;
  params.prompt = "first";
  params.fields = {{"Steps", "20"}, {"Sampler", "Euler"}, {"Seed", "7"}};
  std::string png = EncodePngWithParameters(TestImage(), params).value();
  png = SetPngText(png, kParametersKeyword, "second\nSteps: 1, Sampler: Euler, Seed: 2").value();
  const std::vector<PngTextEntry> texts = ReadPngTexts(png).value();
  ASSERT_EQ(texts.size(), 1u);
  EXPECT_EQ(ReadPngParameters(png).value()->prompt, "second");
}

TEST(PngParametersTest, PngWithoutParametersGivesNothing) {
  const std::string png = EncodePng(TestImage()).value();
  StatusOr<std::optional<GenerationParameters>> back = ReadPngParameters(png);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->has_value());
}

TEST(PngParametersTest, FilesRoundTrip) {
  const std::string path = ::testing::TempDir() + "/image_params_roundtrip.png";
  const GenerationParameters params = ToGenerationParameters(SampleRender());
  ASSERT_TRUE(WritePngWithParameters(path, TestImage(), params).ok());
  StatusOr<std::optional<GenerationParameters>> back = ReadPngFileParameters(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ((*back)->fields, params.fields);
  EXPECT_EQ(ReadPngFileParameters(path + ".missing").status().code(), StatusCode::kNotFound);
}

TEST(PngParametersTest, CorruptPngIsAnErrorNotACrash) {
  const std::string png =
      EncodePngWithParameters(TestImage(), ToGenerationParameters(SampleRender())).value();
  // Every truncation.
  for (size_t n = 0; n < png.size(); ++n) {
    StatusOr<std::optional<GenerationParameters>> r = ReadPngParameters(png.substr(0, n));
    EXPECT_FALSE(r.ok()) << "truncated to " << n;
    EXPECT_FALSE(DecodePng(png.substr(0, n)).ok()) << "truncated to " << n;
  }
  // Every single-byte flip: never a crash; past the signature the CRC catches it.
  for (size_t i = 0; i < png.size(); ++i) {
    std::string bad = png;
    bad[i] = static_cast<char>(bad[i] ^ 0x5A);
    StatusOr<std::optional<GenerationParameters>> r = ReadPngParameters(bad);
    EXPECT_FALSE(r.ok()) << "flipped byte " << i;
  }
  // A chunk length pointing past the end of the file.
  std::string huge = png;
  huge[33] = '\x7f';
  EXPECT_EQ(ReadPngParameters(huge).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ReadPngParameters("not a png").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace farm::image
