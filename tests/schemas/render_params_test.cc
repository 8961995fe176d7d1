#include "farm/schemas/render_params.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <set>

#include "farm/schemas/sha256.h"

namespace farm {
namespace {

RenderParams FixedRender() {
  RenderParams p;
  p.prompt = "studio portrait of sks person, (golden light:1.2)";
  p.negative_prompt = "blurry";
  p.seed = 1234;
  p.sampler = "DPM++ 2M";
  p.scheduler = "karras";
  p.steps = 25;
  p.cfg = 7.0;
  p.clip_skip = 2;
  p.width = 512;
  p.height = 768;
  p.pose = "three_quarter";
  p.tone = "warm";
  p.denoise = 1.0;
  p.checkpoint_sha256 = "cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516";
  p.loras = {{"train:abc@1600", 0.8}};
  p.controlnets = {{"f0b2608b96e8fbbb12eaed48028278713149606fabf3aa0c41f8d206100295df",
                    "pose:three_quarter", 1.0, 0.0, 0.8}};
  p.stages = {{"img2img", {{"denoise", 0.35}, {"prompt", std::string("clean skin")}}},
              {"upscale", {{"factor", 2.0}, {"tiled", false}, {"tile", std::int64_t{512}}}}};
  return p;
}

// The exact bytes are the contract: if this test changes, every stored param_hash changes.
constexpr char kFixedRenderJson[] =
    R"j({"cfg":7,"checkpoint":"cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516",)j"
    R"j("clip_skip":2,"controlnets":[{"end":0.8,"input":"pose:three_quarter",)j"
    R"j("model":"f0b2608b96e8fbbb12eaed48028278713149606fabf3aa0c41f8d206100295df","start":0,)j"
    R"j("weight":1}],"denoise":1,"engine":"studiofarm-sd/1","height":768,"kind":"render",)j"
    R"j("loras":[{"ref":"train:abc@1600","weight":0.8}],"negative_prompt":"blurry",)j"
    R"j("pose":"three_quarter","prompt":"studio portrait of sks person, (golden light:1.2)",)j"
    R"j("rng":"cpu","sampler":"DPM++ 2M","scheduler":"karras","seed":1234,)j"
    R"j("stages":[{"kind":"img2img","settings":{"denoise":0.35,"prompt":"clean skin"}},)j"
    R"j({"kind":"upscale","settings":{"factor":2,"tile":512,"tiled":false}}],"steps":25,)j"
    R"j("tone":"warm","v":1,"width":512})j";
// sha256sum of kFixedRenderJson, computed outside the farm.
constexpr char kFixedRenderHash[] =
    "88caaf76793e3e29597e911f10a95c7f0966109b3c138e97c412310358b341b2";

TEST(RenderParamsTest, CanonicalJsonIsPinned) {
  auto json = ToCanonicalJson(FixedRender());
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  EXPECT_EQ(*json, kFixedRenderJson);
}

TEST(RenderParamsTest, ParamHashIsPinned) {
  auto hash = ParamHash(FixedRender());
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(*hash, kFixedRenderHash);
}

TEST(RenderParamsTest, EveryFieldChangesTheHash) {
  const std::string base = *ParamHash(FixedRender());
  std::vector<std::function<void(RenderParams&)>> edits = {
      [](RenderParams& p) { p.prompt += " "; },
      [](RenderParams& p) { p.negative_prompt.clear(); },
      [](RenderParams& p) { p.seed += 1; },
      [](RenderParams& p) { p.sampler = "Euler"; },
      [](RenderParams& p) { p.scheduler = "normal"; },
      [](RenderParams& p) { p.steps = 26; },
      [](RenderParams& p) { p.cfg = 7.5; },
      [](RenderParams& p) { p.clip_skip = 1; },
      [](RenderParams& p) { p.width = 768; },
      [](RenderParams& p) { p.height = 512; },
      [](RenderParams& p) { p.pose = "seated"; },
      [](RenderParams& p) { p.tone = "cool"; },
      [](RenderParams& p) { p.denoise = 0.9; },
      [](RenderParams& p) { p.checkpoint_sha256[0] = 'd'; },
      [](RenderParams& p) { p.loras[0].weight = 0.7; },
      [](RenderParams& p) { p.loras[0].ref = "train:abc@1000"; },
      [](RenderParams& p) { p.controlnets[0].guidance_end = 1.0; },
      [](RenderParams& p) { p.controlnets.clear(); },
      [](RenderParams& p) { p.stages[0].settings["denoise"] = 0.4; },
      [](RenderParams& p) { std::swap(p.stages[0], p.stages[1]); },
      [](RenderParams& p) { p.engine = "studiofarm-sd/2"; },
      [](RenderParams& p) { p.rng = "cuda"; },
      [](RenderParams& p) { p.vae_sha256 = std::string(64, 'e'); },
      [](RenderParams& p) { p.embeddings["easynegative"] = std::string(64, 'f'); },
  };
  std::set<std::string> seen = {base};
  for (std::size_t i = 0; i < edits.size(); ++i) {
    RenderParams p = FixedRender();
    edits[i](p);
    const std::string hash = *ParamHash(p);
    EXPECT_TRUE(seen.insert(hash).second) << "edit " << i << " did not change the hash";
  }
}

TEST(RenderParamsTest, IntegralDoublesHashLikeIntegers) {
  // A stage setting written as 2 in one spec and 2.0 in another is the same render.
  RenderParams a = FixedRender();
  RenderParams b = FixedRender();
  a.stages[1].settings["factor"] = std::int64_t{2};
  b.stages[1].settings["factor"] = 2.0;
  EXPECT_EQ(*ParamHash(a), *ParamHash(b));
}

TEST(RenderParamsTest, RoundTripsThroughJson) {
  const RenderParams original = FixedRender();
  auto parsed = RenderParamsFromJson(*ToCanonicalJson(original));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*ParamHash(*parsed), *ParamHash(original));
  EXPECT_EQ(parsed->seed, 1234u);
  EXPECT_EQ(parsed->loras.size(), 1u);
  EXPECT_EQ(std::get<std::string>(parsed->stages[0].settings.at("prompt")), "clean skin");
}

TEST(RenderParamsTest, ParsingNamesTheBadField) {
  std::string json = *ToCanonicalJson(FixedRender());
  const std::string bad = std::string(json).replace(json.find("\"steps\":25"), 10, "\"steps\":\"x\"");
  auto parsed = RenderParamsFromJson(bad);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("'steps'"), std::string::npos);

  EXPECT_FALSE(RenderParamsFromJson("[]").ok());
  EXPECT_FALSE(RenderParamsFromJson(R"({"v":99,"kind":"render"})").ok());
  EXPECT_FALSE(RenderParamsFromJson(R"({"v":1,"kind":"train"})").ok());
}

TEST(RenderParamsTest, RecordWithoutVaeKeepsItsBytesAndHash) {
  // A record stored before the optional "vae" field reads back and re-serialises to the
  // same bytes, so its param_hash is unchanged.
  auto parsed = RenderParamsFromJson(kFixedRenderJson);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->vae_sha256.empty());
  EXPECT_EQ(*ToCanonicalJson(*parsed), kFixedRenderJson);
  EXPECT_EQ(*ParamHash(*parsed), kFixedRenderHash);
}

TEST(RenderParamsTest, VaeIsRecordedAndReadBack) {
  RenderParams p = FixedRender();
  p.vae_sha256 = "735e4c3a447a3255760d7f86845f09f937809baa529c17370d83e4c3758f3c75";
  const std::string json = *ToCanonicalJson(p);
  EXPECT_NE(json.find(R"("v":1,"vae":"735e4c3a447a3255760d7f86845f09f937809baa529c17370d83e4c3758f3c75")"),
            std::string::npos)
      << json;
  EXPECT_NE(*ParamHash(p), kFixedRenderHash);
  auto parsed = RenderParamsFromJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->vae_sha256, p.vae_sha256);
  EXPECT_EQ(*ParamHash(*parsed), *ParamHash(p));

  // An empty "vae" would be a second spelling of "no VAE" with another hash.
  std::string empty_vae = json;
  empty_vae.replace(empty_vae.find(p.vae_sha256), p.vae_sha256.size(), "");
  auto refused = RenderParamsFromJson(empty_vae);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("'vae'"), std::string::npos) << refused.status().ToString();
}

TEST(RenderParamsTest, RecordWithoutEmbeddingsKeepsItsBytesAndHash) {
  auto parsed = RenderParamsFromJson(kFixedRenderJson);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->embeddings.empty());
  EXPECT_EQ(*ToCanonicalJson(*parsed), kFixedRenderJson);
  EXPECT_EQ(*ParamHash(*parsed), kFixedRenderHash);
}

TEST(RenderParamsTest, EmbeddingsAreRecordedByNameAndReadBack) {
  RenderParams p = FixedRender();
  p.embeddings["zeta"] = std::string(64, '2');
  p.embeddings["EasyNegative"] = "c74b4e810b030aa5fc4b0e7c3d8ac4f4e5ad1ab5a1e3a0b4ed0bd2d8b7cfb0b3";
  const std::string json = *ToCanonicalJson(p);
  EXPECT_NE(json.find(R"("embeddings":{"EasyNegative":"c74b4e810b030aa5fc4b0e7c3d8ac4f4e5ad1ab5a1e3a0b4ed0bd2d8b7cfb0b3",)"
                      R"("zeta":"2222222222222222222222222222222222222222222222222222222222222222"},"engine":)"),
            std::string::npos)
      << json;
  EXPECT_NE(*ParamHash(p), kFixedRenderHash);
  auto parsed = RenderParamsFromJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->embeddings, p.embeddings);
  EXPECT_EQ(*ParamHash(*parsed), *ParamHash(p));

  // The hash is the file's: another file under the same name is another render.
  RenderParams other = p;
  other.embeddings["zeta"] = std::string(64, '3');
  EXPECT_NE(*ParamHash(other), *ParamHash(p));

  std::string empty = json;
  const size_t start = empty.find(R"("embeddings":{)");
  const size_t end = empty.find("},", start);
  empty.replace(start, end + 2 - start, R"("embeddings":{},)");
  auto refused = RenderParamsFromJson(empty);
  ASSERT_FALSE(refused.ok()) << empty;
  EXPECT_NE(refused.status().message().find("'embeddings'"), std::string::npos) << refused.status().ToString();
  std::string not_text = json;
  not_text.replace(not_text.find(R"("zeta":")"), 8, R"("zeta":1,"x":")");
  EXPECT_FALSE(RenderParamsFromJson(not_text).ok());
}

TEST(RenderParamsTest, NonFiniteNumbersAreRefused) {
  RenderParams p = FixedRender();
  p.cfg = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(ParamHash(p).ok());
}

TEST(TrainParamsTest, SaveStepsOrderDoesNotMatter) {
  TrainParams a;
  a.identity = "ada";
  a.save_steps = {2000, 800, 1600, 1000};
  TrainParams b = a;
  b.save_steps = {800, 1000, 1600, 2000, 1600};
  EXPECT_EQ(*ParamHash(a), *ParamHash(b));
  EXPECT_NE(ToCanonicalJson(a)->find(R"("save_steps":[800,1000,1600,2000])"), std::string::npos);
}

TEST(ScoreParamsTest, CanonicalJsonIsPinned) {
  ScoreParams s{"r1", "ada", "p1", "cosine"};
  EXPECT_EQ(*ToCanonicalJson(s),
            R"({"identity":"ada","kind":"score","metric":"cosine","photos":"p1","render":"r1","v":1})");
}

TEST(PhotoSetDigestTest, IndependentOfOrder) {
  EXPECT_EQ(PhotoSetDigest({"b", "a", "c"}), PhotoSetDigest({"c", "b", "a"}));
  EXPECT_EQ(PhotoSetDigest({"a", "b"}), Sha256Hex("a\nb"));
  EXPECT_NE(PhotoSetDigest({"a", "b"}), PhotoSetDigest({"a"}));
}

}  // namespace
}  // namespace farm
