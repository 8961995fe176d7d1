// A checkpoint with every name and shape of the real SD 1.5 (fp16, ~2 GB, written to
// the scratch folder and removed at exit), loaded the way the engine loads real files.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "farm/sd/checkpoint.h"
#include "farm/sd/json.h"
#include "farm/sd/safetensors.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

std::vector<int64_t> JsonShape(const Json& shape) {
  std::vector<int64_t> out;
  for (const Json& dim : shape.items()) out.push_back(*dim.AsInt64());
  return out;
}

// Exact in fp16: multiples of 1/4 below 256.
double PatternValue(size_t index) { return static_cast<double>(index % 1000) * 0.25; }

TEST(CheckpointLargeTest, FullSizeSd15Fp16Checkpoint) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  std::ifstream in(dir + "/sd15_ldm_keys.json");
  std::stringstream text;
  text << in.rdbuf();
  StatusOr<Json> keys = Json::Parse(text.str());
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  const std::vector<Json>& entries = keys->Find("tensors")->items();
  ASSERT_EQ(entries.size(), 1130u);

  // Broadcast views of one scalar each: the writer materialises one tensor at a time,
  // so building the file costs the size of the largest tensor, not 2 GB.
  TensorMap ldm;
  for (size_t i = 0; i < entries.size(); ++i) {
    ldm[entries[i].Find("ldm")->text()] =
        at::full({}, PatternValue(i), at::kHalf).expand(JsonShape(*entries[i].Find("shape")));
  }
  ldm["cond_stage_model.transformer.text_model.embeddings.position_ids"] = at::arange(77, at::kLong).unsqueeze(0);
  const std::string path = testing::ScratchDir() + "/sd15_full_fp16.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, ldm).ok());
  ldm.clear();
  EXPECT_GT(std::filesystem::file_size(path), 2'000'000'000u);

  StatusOr<SdWeights> weights = LoadCheckpoint(path, at::kHalf);  // no 4 GB fp32 copy
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  EXPECT_EQ(weights->unet.size(), 686u);
  EXPECT_EQ(weights->vae.size(), 248u);
  EXPECT_EQ(weights->text_encoder.size(), 196u);
  EXPECT_EQ(weights->ignored_keys,
            std::vector<std::string>{"cond_stage_model.transformer.text_model.embeddings.position_ids"});
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& component = entries[i].Find("diffusers_component")->text();
    const TensorMap& map = component == "unet" ? weights->unet : component == "vae" ? weights->vae : weights->text_encoder;
    const std::string& name = entries[i].Find("diffusers")->text();
    auto it = map.find(name);
    ASSERT_NE(it, map.end()) << component << "/" << name;
    const at::Tensor& t = it->second;
    EXPECT_EQ(t.scalar_type(), at::kHalf) << name;
    EXPECT_EQ(t.sizes().vec(), JsonShape(*entries[i].Find("diffusers_shape"))) << name;
    const at::Tensor flat = t.flatten();
    EXPECT_EQ(flat[0].item<double>(), PatternValue(i)) << name;
    EXPECT_EQ(flat[-1].item<double>(), PatternValue(i)) << name;
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace farm::sd
