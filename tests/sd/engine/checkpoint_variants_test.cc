// The checkpoint variants people download, rendered: fp16 and bf16 files (computed in
// fp32), files that also carry EMA copies (model_ema.*) and training leftovers, and
// inpainting checkpoints (9-channel UNet), which the engine refuses by name. Each variant
// is written by the test from the tiny model.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "farm/sd/engine.h"
#include "farm/sd/safetensors.h"
#include "farm/sd/tiny_model.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

class CheckpointVariantsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto files = MakeTinyModel(testing::ScratchDir() + "/variants", 11);
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    files_ = new TinyModelFiles(*files);
    auto file = SafetensorsFile::Open(files_->checkpoint);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    metadata_ = new std::map<std::string, std::string>((*file)->metadata());
    auto raw = ReadSafetensors(files_->checkpoint);
    ASSERT_TRUE(raw.ok()) << raw.status().ToString();
    fp32_ = new TensorMap(std::move(raw).value());
  }
  static void TearDownTestSuite() {
    delete files_;
    delete metadata_;
    delete fp32_;
  }

  // `tensors` as <tiny model folder>/<name> with the tiny model's metadata (head and group
  // counts); the tokenizer folder beside it is the tiny model's.
  static std::string Write(const std::string& name, const TensorMap& tensors) {
    const std::string path = files_->tokenizer_dir + "/../" + name;
    Status written = WriteSafetensors(path, tensors, *metadata_);
    EXPECT_TRUE(written.ok()) << written.ToString();
    return path;
  }

  static StatusOr<RenderOutput> Render(const std::string& checkpoint) {
    EngineOptions options;
    options.checkpoint = checkpoint;
    options.tokenizer_dir = files_->tokenizer_dir;
    options.threads = 1;
    FARM_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Load(options));
    for (const auto& [name, tensor] : engine->unet().weights()) {
      if (tensor.scalar_type() != at::kFloat) return Internal("unet weight " + name + " is not fp32");
    }
    RenderRequest r;
    r.prompt = "a studio portrait, soft light";
    r.negative_prompt = "blurry";
    r.sampler = "Euler";
    r.steps = 3;
    r.seed = 7;
    r.width = 64;
    r.height = 48;
    return engine->Render(r);
  }

  // Every floating-point tensor of the fp32 file stored as `dtype`.
  static TensorMap Stored(at::ScalarType dtype) {
    TensorMap out;
    for (const auto& [key, tensor] : *fp32_) {
      out[key] = at::isFloatingType(tensor.scalar_type()) ? tensor.to(dtype) : tensor;
    }
    return out;
  }

  static TinyModelFiles* files_;
  static std::map<std::string, std::string>* metadata_;
  static TensorMap* fp32_;
};

TinyModelFiles* CheckpointVariantsTest::files_ = nullptr;
std::map<std::string, std::string>* CheckpointVariantsTest::metadata_ = nullptr;
TensorMap* CheckpointVariantsTest::fp32_ = nullptr;

TEST_F(CheckpointVariantsTest, HalfAndBfloat16FilesRenderAsTheFp32FileWithTheSameRounding) {
  auto original = Render(files_->checkpoint);
  ASSERT_TRUE(original.ok()) << original.status().ToString();
  for (at::ScalarType dtype : {at::kHalf, at::kBFloat16}) {
    const std::string label = c10::toString(dtype);
    const TensorMap stored = Stored(dtype);
    TensorMap rounded;  // fp32 -> dtype -> fp32, written as an fp32 file
    for (const auto& [key, tensor] : stored) {
      rounded[key] = at::isFloatingType(tensor.scalar_type()) ? tensor.to(at::kFloat) : tensor;
    }
    auto narrow = Render(Write("tiny-" + label + ".safetensors", stored));
    ASSERT_TRUE(narrow.ok()) << label << ": " << narrow.status().ToString();
    auto wide = Render(Write("tiny-" + label + "-rounded.safetensors", rounded));
    ASSERT_TRUE(wide.ok()) << label << ": " << wide.status().ToString();
    EXPECT_TRUE(at::equal(narrow->latents, wide->latents)) << label;
    EXPECT_TRUE(at::equal(narrow->images, wide->images)) << label;
    // The rounding reached the computation: the latents are not the original file's.
    EXPECT_FALSE(at::equal(narrow->latents, original->latents)) << label;
  }
}

TEST_F(CheckpointVariantsTest, EmaCopiesAndTrainingLeftoversAreIgnoredAsA1111Does) {
  // v1-5-pruned.safetensors layout: the EMA UNet next to the trained one under LitEma's
  // names (the parameter name without dots), plus its counters and DDPM buffers.
  TensorMap with_ema = *fp32_;
  TensorMap ema_as_model = *fp32_;  // the EMA values where A1111 reads the UNet from
  const std::string unet_prefix = "model.diffusion_model.";
  int copies = 0;
  for (const auto& [key, tensor] : *fp32_) {
    if (!key.starts_with(unet_prefix)) continue;
    std::string ema_name = "diffusion_model" + key.substr(unet_prefix.size() - 1);
    std::erase(ema_name, '.');
    const at::Tensor ema = tensor * 0.5 + 0.01;
    with_ema["model_ema." + ema_name] = ema;
    ema_as_model[key] = ema;
    ++copies;
  }
  ASSERT_GT(copies, 10);
  with_ema["model_ema.decay"] = at::full({}, 0.9999, at::kFloat);
  with_ema["model_ema.num_updates"] = at::full({}, 1000, at::kInt);
  with_ema["alphas_cumprod"] = at::linspace(1, 0.01, 1000);
  with_ema["betas"] = at::linspace(0.00085, 0.012, 1000);
  with_ema["cond_stage_model.transformer.text_model.embeddings.position_ids"] = at::arange(77, at::kLong).unsqueeze(0);

  auto plain = Render(files_->checkpoint);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  auto ema_file = Render(Write("tiny-with-ema.safetensors", with_ema));
  ASSERT_TRUE(ema_file.ok()) << ema_file.status().ToString();
  EXPECT_TRUE(at::equal(ema_file->latents, plain->latents));
  EXPECT_TRUE(at::equal(ema_file->images, plain->images));
  // The copies differ enough to show if they were used.
  auto ema_weights = Render(Write("tiny-ema-as-model.safetensors", ema_as_model));
  ASSERT_TRUE(ema_weights.ok()) << ema_weights.status().ToString();
  EXPECT_FALSE(at::equal(ema_weights->latents, plain->latents));
}

TEST_F(CheckpointVariantsTest, InpaintingCheckpointsAreRefusedByName) {
  TensorMap inpainting = *fp32_;
  at::Tensor& conv_in = inpainting.at("model.diffusion_model.input_blocks.0.0.weight");
  ASSERT_EQ(conv_in.size(1), 4);
  // Latent, mask (1) and masked-image latent (4) channels.
  conv_in = at::cat({conv_in, at::zeros({conv_in.size(0), 5, conv_in.size(2), conv_in.size(3)})}, 1);
  const std::string path = Write("tiny-inpainting.safetensors", inpainting);
  EngineOptions options;
  options.checkpoint = path;
  options.tokenizer_dir = files_->tokenizer_dir;
  auto engine = Engine::Load(options);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), StatusCode::kInvalidArgument);
  const std::string message = engine.status().message();
  EXPECT_NE(message.find(path + " is an inpainting checkpoint (9-channel UNet"), std::string::npos) << message;
  EXPECT_NE(message.find("use the checkpoint the inpainting model was made from"), std::string::npos) << message;
}

}  // namespace
}  // namespace farm::sd
