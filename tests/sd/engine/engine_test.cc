#include "farm/sd/engine.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "farm/sd/checkpoint.h"
#include "farm/sd/lora_file.h"
#include "farm/sd/safetensors.h"
#include "farm/sd/tiny_model.h"
#include "reference_paths.h"
#include "tiny_engine_suite.h"

namespace farm::sd {
namespace {

using testing::FileBytes;

class EngineTest : public testing::TinyEngineSuite {
 protected:
  static void SetUpTestSuite() { LoadTinyEngine("tiny", 5); }

  static RenderRequest SmallRequest() {
    RenderRequest r;
    r.prompt = "a (studio:1.2) portrait, soft light";
    r.negative_prompt = "blurry";
    r.sampler = "Euler a";
    r.steps = 3;
    r.seed = 42;
    r.width = 64;
    r.height = 48;
    return r;
  }

};

TEST_F(EngineTest, TinyModelIsWrittenDeterministically) {
  auto again = MakeTinyModel(testing::ScratchDir() + "/tiny-again", 5);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(FileBytes(again->checkpoint), FileBytes(files_->checkpoint));
  EXPECT_EQ(FileBytes(again->tokenizer_dir + "/vocab.json"), FileBytes(files_->tokenizer_dir + "/vocab.json"));
  auto other = MakeTinyModel(testing::ScratchDir() + "/tiny-other", 6);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(FileBytes(other->checkpoint), FileBytes(files_->checkpoint));
  EXPECT_EQ(FileBytes(again->lora), FileBytes(files_->lora));
  EXPECT_NE(FileBytes(other->lora), FileBytes(files_->lora));
}

TEST_F(EngineTest, TinyLoraAppliesToEveryAttentionProjectionAndChangesTheImage) {
  auto lora = ReadLoraFile(files_->lora);
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  EXPECT_TRUE(lora->problems.empty());
  EXPECT_GT(lora->modules.size(), 8u);
  RenderRequest r = SmallRequest();
  auto plain = engine_->Render(r);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  r.loras.push_back({files_->lora, 0.8});
  auto with_lora = engine_->Render(r);
  ASSERT_TRUE(with_lora.ok()) << with_lora.status().ToString();
  EXPECT_FALSE(at::equal(plain->images, with_lora->images));
  EXPECT_GT(with_lora->seconds.unet, 0.0);
  EXPECT_GT(with_lora->seconds.text, 0.0);
  EXPECT_GT(with_lora->seconds.vae, 0.0);
  // A file read once (as a model cache keeps it) renders the same pixels.
  r.loras[0].file = std::make_shared<const LoraFile>(std::move(*lora));
  auto from_memory = engine_->Render(r);
  ASSERT_TRUE(from_memory.ok()) << from_memory.status().ToString();
  EXPECT_TRUE(at::equal(with_lora->images, from_memory->images));
}

TEST_F(EngineTest, SameRequestGivesBitIdenticalPixels) {
  for (const char* sampler : {"Euler a", "DPM++ 2M Karras", "DPM++ SDE Karras", "DDIM", "Euler"}) {
    RenderRequest r = SmallRequest();
    r.sampler = sampler;
    auto first = engine_->Render(r);
    ASSERT_TRUE(first.ok()) << sampler << ": " << first.status().ToString();
    auto second = engine_->Render(r);
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(first->images.sizes(), (std::vector<int64_t>{1, 48, 64, 3}));
    EXPECT_TRUE(at::equal(first->images, second->images)) << sampler;
    EXPECT_TRUE(at::equal(first->latents, second->latents)) << sampler;
    EXPECT_EQ(first->threads, 1);
    EXPECT_EQ(first->steps_run, 3);
  }
}

TEST_F(EngineTest, SeedChangesTheImage) {
  RenderRequest r = SmallRequest();
  auto a = engine_->Render(r);
  r.seed = 43;
  auto b = engine_->Render(r);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(at::equal(a->latents, b->latents));
}

TEST_F(EngineTest, BatchImagesEqualSingleRendersOfTheirSeeds) {
  RenderRequest r = SmallRequest();
  r.batch = 2;
  auto batch = engine_->Render(r);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(batch->seeds, (std::vector<uint64_t>{42, 43}));
  for (int64_t i = 0; i < 2; ++i) {
    RenderRequest single = SmallRequest();
    single.seed = 42 + i;
    auto one = engine_->Render(single);
    ASSERT_TRUE(one.ok());
    // Same noise; only the matrix-product blocking of a larger batch may differ.
    EXPECT_LT((batch->latents[i] - one->latents[0]).abs().max().item<double>(), 1e-3) << i;
  }
}

TEST_F(EngineTest, Img2ImgRunsThePartOfTheScheduleStrengthSelects) {
  RenderRequest r = SmallRequest();
  r.steps = 10;
  r.init_image = at::rand({3, 48, 64});
  r.strength = 0.35;  // t_enc = 3 -> 4 steps run
  auto out = engine_->Render(r);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->steps_run, 4);
}

TEST_F(EngineTest, InpaintKeepsTheUnmaskedImage) {
  RenderRequest r = SmallRequest();
  r.init_image = at::rand({3, 48, 64});
  r.strength = 0.8;
  r.mask = at::zeros({48, 64});  // keep everything
  auto a = engine_->Render(r);
  r.seed = 99;
  auto b = engine_->Render(r);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString();
  // With nothing to repaint, the result is the encoded original whatever the seed.
  EXPECT_TRUE(at::equal(a->latents, b->latents));

  r.mask = at::ones({48, 64});
  auto repainted = engine_->Render(r);
  ASSERT_TRUE(repainted.ok());
  EXPECT_FALSE(at::equal(repainted->latents, a->latents));
}

TEST_F(EngineTest, InpaintWithAPartialMaskRepaintsOnlyTheMaskedLatents) {
  RenderRequest r = SmallRequest();  // 64x48: a latent of 8x6
  r.init_image = at::rand({3, 48, 64});
  r.strength = 0.8;
  r.mask = at::zeros({48, 64});
  auto original = engine_->Render(r);  // nothing repainted: the encoded init image
  ASSERT_TRUE(original.ok()) << original.status().ToString();

  // The right half is repainted: latent columns 4..7 exactly, 0..3 kept exactly.
  at::Tensor mask = at::zeros({48, 64});
  mask.slice(/*dim=*/1, 32, 64).fill_(1);
  r.mask = mask;
  auto a = engine_->Render(r);
  r.seed = 99;
  auto b = engine_->Render(r);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString() << b.status().ToString();
  const auto kept = [](const at::Tensor& latents) { return latents.slice(3, 0, 4); };
  const auto repainted = [](const at::Tensor& latents) { return latents.slice(3, 4, 8); };
  ASSERT_EQ(a->latents.size(3), 8);
  EXPECT_TRUE(at::equal(kept(a->latents), kept(original->latents)));
  EXPECT_TRUE(at::equal(kept(b->latents), kept(original->latents)));
  EXPECT_FALSE(at::equal(repainted(a->latents), repainted(original->latents)));
  EXPECT_FALSE(at::equal(repainted(a->latents), repainted(b->latents))) << "the seed must matter";
  EXPECT_FALSE(at::equal(a->images, b->images));
}

TEST_F(EngineTest, LongPromptsAndBreakUseSeveralChunks) {
  std::string long_prompt;
  for (int i = 0; i < 60; ++i) long_prompt += "studio portrait, ";
  auto z = engine_->EncodePrompt(long_prompt, 1);
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  EXPECT_GE(z->size(1), 2 * 77);
  EXPECT_EQ(z->size(1) % 77, 0);
  auto padded = engine_->EncodePrompt("face", 2, 3);
  ASSERT_TRUE(padded.ok());
  EXPECT_EQ(padded->size(1), 3 * 77);

  RenderRequest r = SmallRequest();
  r.prompt = long_prompt + " BREAK warm tone";
  EXPECT_TRUE(engine_->Render(r).ok());
}

TEST_F(EngineTest, BadRequestsAreClearErrors) {
  RenderRequest r = SmallRequest();
  r.width = 60;
  EXPECT_NE(engine_->Render(r).status().message().find("multiples of 8"), std::string::npos);
  r = SmallRequest();
  r.clip_skip = 9;
  EXPECT_NE(engine_->Render(r).status().message().find("clip skip"), std::string::npos);
  r = SmallRequest();
  r.sampler = "Euler b";
  EXPECT_FALSE(engine_->Render(r).ok());
  r = SmallRequest();
  r.prompt = "portrait <lora:missing_face:0.8>";
  auto missing = engine_->Render(r);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing_face"), std::string::npos);
  r = SmallRequest();
  r.mask = at::zeros({48, 64});
  EXPECT_NE(engine_->Render(r).status().message().find("init image"), std::string::npos);
}

EngineOptions OptionsFor(const std::string& checkpoint, const std::string& device = "cpu") {
  EngineOptions options;
  options.checkpoint = checkpoint;
  options.device = device;
  return options;
}

TEST_F(EngineTest, SeparateVaeReplacesTheCheckpointsVae) {
  // A VAE from the tiny checkpoint's own, perturbed, in the LDM (bare keys) and diffusers
  // layouts, and a checkpoint that carries the same VAE.
  auto file = SafetensorsFile::Open(files_->checkpoint);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto raw = ReadSafetensors(files_->checkpoint);
  ASSERT_TRUE(raw.ok());
  const std::string prefix = "first_stage_model.";
  TensorMap merged = *raw, bare, prefixed;
  for (const auto& [key, tensor] : *raw) {
    if (!key.starts_with(prefix)) continue;
    const at::Tensor changed = key.find("decoder.") != std::string::npos ? tensor * 1.25 : tensor;
    merged[key] = changed;
    prefixed[key] = changed;
    bare[key.substr(prefix.size())] = changed;
  }
  const std::string dir = testing::ScratchDir() + "/tiny-vae";
  std::filesystem::create_directories(dir);
  const std::string ldm_vae = dir + "/vae_ldm.safetensors";
  const std::string diffusers_vae = dir + "/vae_diffusers.safetensors";
  const std::string merged_checkpoint = dir + "/merged.safetensors";
  ASSERT_TRUE(WriteSafetensors(ldm_vae, bare).ok());
  auto diffusers = SdWeightsFromLdm(prefixed);
  ASSERT_TRUE(diffusers.ok()) << diffusers.status().ToString();
  ASSERT_TRUE(WriteSafetensors(diffusers_vae, diffusers->vae).ok());
  ASSERT_TRUE(WriteSafetensors(merged_checkpoint, merged, (*file)->metadata()).ok());

  auto render = [&](const std::string& checkpoint, const std::string& vae) -> StatusOr<RenderOutput> {
    EngineOptions options;
    options.checkpoint = checkpoint;
    options.vae = vae;
    options.tokenizer_dir = files_->tokenizer_dir;
    options.threads = 1;
    FARM_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Load(options));
    return engine->Render(SmallRequest());
  };
  auto plain = engine_->Render(SmallRequest());
  auto with_ldm = render(files_->checkpoint, ldm_vae);
  auto with_diffusers = render(files_->checkpoint, diffusers_vae);
  auto carried = render(merged_checkpoint, "");
  ASSERT_TRUE(plain.ok() && carried.ok()) << carried.status().ToString();
  ASSERT_TRUE(with_ldm.ok()) << with_ldm.status().ToString();
  ASSERT_TRUE(with_diffusers.ok()) << with_diffusers.status().ToString();
  EXPECT_TRUE(at::equal(plain->latents, with_ldm->latents));  // only the decoder changed
  EXPECT_FALSE(at::equal(plain->images, with_ldm->images));
  EXPECT_TRUE(at::equal(with_ldm->images, carried->images));
  EXPECT_TRUE(at::equal(with_diffusers->images, carried->images));

  // A full checkpoint or an incomplete VAE file is refused, naming the file.
  auto full = render(files_->checkpoint, files_->checkpoint);
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.status().message().find("is not a VAE weight"), std::string::npos) << full.status().ToString();
  TensorMap smaller = bare;
  smaller.erase("decoder.conv_out.bias");
  const std::string incomplete = dir + "/vae_incomplete.safetensors";
  ASSERT_TRUE(WriteSafetensors(incomplete, smaller).ok());
  auto refused = render(files_->checkpoint, incomplete);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("decoder.conv_out.bias"), std::string::npos)
      << refused.status().ToString();
  EXPECT_NE(refused.status().message().find(incomplete), std::string::npos) << refused.status().ToString();
}

TEST(EngineLoadTest, MissingTokenizerAndCheckpointAreNamed) {
  auto missing = Engine::Load(OptionsFor("/nonexistent/model.safetensors"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/model.safetensors"), std::string::npos);
  auto files = MakeTinyModel(testing::ScratchDir() + "/no-tokenizer", 1);
  ASSERT_TRUE(files.ok());
  std::filesystem::remove_all(files->tokenizer_dir);
  auto no_tokenizer = Engine::Load(OptionsFor(files->checkpoint));
  ASSERT_FALSE(no_tokenizer.ok());
  EXPECT_NE(no_tokenizer.status().message().find("tokenizer"), std::string::npos);
  auto bad_device = Engine::Load(OptionsFor(files->checkpoint, "tpu:0"));
  ASSERT_FALSE(bad_device.ok());
  EXPECT_NE(bad_device.status().message().find("tpu:0"), std::string::npos);
}

}  // namespace
}  // namespace farm::sd
