// The models size themselves from shapes, so the full SD 1.5 weight list (names and
// shapes only, as meta tensors without storage) must be accepted with default options.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "farm/sd/clip_text_model.h"
#include "farm/sd/controlnet.h"
#include "farm/sd/controlnet_checkpoint.h"
#include "farm/sd/json.h"
#include "farm/sd/unet.h"
#include "farm/sd/vae.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

std::map<std::string, TensorMap> FullSizeMetaWeights(const std::string& dir) {
  std::ifstream in(dir + "/sd15_ldm_keys.json");
  std::stringstream text;
  text << in.rdbuf();
  auto doc = Json::Parse(text.str());
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  std::map<std::string, TensorMap> components;
  if (!doc.ok() || !doc->Find("tensors")) return components;
  for (const Json& entry : doc->Find("tensors")->items()) {
    std::vector<int64_t> shape;
    for (const Json& dim : entry.Find("diffusers_shape")->items()) shape.push_back(*dim.AsInt64());
    components[entry.Find("diffusers_component")->text()][entry.Find("diffusers")->text()] =
        at::empty(shape, at::TensorOptions().device(at::kMeta).dtype(at::kFloat));
  }
  return components;
}

TEST(FullSizeModelsTest, AcceptSd15WeightShapesWithDefaultOptions) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  std::map<std::string, TensorMap> weights = FullSizeMetaWeights(dir);

  auto clip = ClipTextModel::Create(weights["text_encoder"]);
  ASSERT_TRUE(clip.ok()) << clip.status().ToString();
  EXPECT_EQ(clip->hidden_size(), 768);
  EXPECT_EQ(clip->num_layers(), 12);
  EXPECT_EQ(clip->num_heads(), 12);
  EXPECT_EQ(clip->intermediate_size(), 3072);
  EXPECT_EQ(clip->vocab_size(), 49408);

  auto unet = UNet::Create(weights["unet"]);
  ASSERT_TRUE(unet.ok()) << unet.status().ToString();
  EXPECT_EQ(unet->block_out_channels(), (std::vector<int64_t>{320, 640, 1280, 1280}));
  EXPECT_EQ(unet->num_skips(), 12);
  EXPECT_EQ(unet->context_dim(), 768);

  auto vae = Vae::Create(weights["vae"]);
  ASSERT_TRUE(vae.ok()) << vae.status().ToString();
  EXPECT_EQ(vae->latent_channels(), 4);
  EXPECT_EQ(vae->downscale_factor(), 8);
}

TEST(FullSizeModelsTest, AcceptSd15ControlNetShapesWithDefaultOptions) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  std::ifstream in(dir + "/sd15_ldm_keys.json");
  std::stringstream text;
  text << in.rdbuf();
  auto doc = Json::Parse(text.str());
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  ASSERT_NE(doc->Find("controlnet_tensors"), nullptr);
  // The original-layout names go through the loader's renaming, as a real file would.
  std::vector<std::string> keys;
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const Json& entry : doc->Find("controlnet_tensors")->items()) {
    keys.push_back(entry.Find("ldm")->text());
    for (const Json& dim : entry.Find("shape")->items()) shapes[keys.back()].push_back(*dim.AsInt64());
  }
  auto names = MapControlNetLdmNames(keys);
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  TensorMap weights;
  for (const auto& [key, name] : names->mapped) {
    weights[name] = at::empty(shapes[key], at::TensorOptions().device(at::kMeta).dtype(at::kFloat));
  }
  auto controlnet = ControlNet::Create(weights);
  ASSERT_TRUE(controlnet.ok()) << controlnet.status().ToString();
  EXPECT_EQ(controlnet->block_out_channels(), (std::vector<int64_t>{320, 640, 1280, 1280}));
  EXPECT_EQ(controlnet->conditioning_channels(), (std::vector<int64_t>{16, 32, 96, 256}));
  EXPECT_EQ(controlnet->num_residuals(), 12);
  EXPECT_EQ(controlnet->hint_downscale(), 8);
  EXPECT_EQ(controlnet->context_dim(), 768);

  auto unet = UNet::Create(FullSizeMetaWeights(dir)["unet"]);
  ASSERT_TRUE(unet.ok()) << unet.status().ToString();
  EXPECT_TRUE(controlnet->CheckFits(*unet).ok());
}

}  // namespace
}  // namespace farm::sd
