// ControlNet files: the original (cldm) and diffusers names map onto each other for the
// full-size SD 1.5 ControlNet, and files that are not ControlNets are clear errors.
#include "farm/sd/controlnet_checkpoint.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "farm/sd/json.h"
#include "farm/sd/safetensors.h"
#include "json_file.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {
namespace fs = std::filesystem;

std::string Scratch(const std::string& name) { return testing::ScratchPath("controlnet_checkpoint", name); }

Json ReadJson(const std::string& path) { return testing::ReadJsonFile(path); }

TEST(ControlNetNamesTest, FullSizeSd15ControlNetKeysMapBothWays) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  const Json keys = ReadJson(dir + "/sd15_ldm_keys.json");
  const Json* entries = keys.Find("controlnet_tensors");
  ASSERT_NE(entries, nullptr);
  ASSERT_GT(entries->items().size(), 300u);
  std::vector<std::string> ldm_keys, diffusers_names;
  std::map<std::string, std::string> expected;
  for (const Json& entry : entries->items()) {
    ldm_keys.push_back(entry.Find("ldm")->text());
    diffusers_names.push_back(entry.Find("diffusers")->text());
    expected[ldm_keys.back()] = diffusers_names.back();
  }
  StatusOr<ControlNetNameMap> forward = MapControlNetLdmNames(ldm_keys);
  ASSERT_TRUE(forward.ok()) << forward.status().ToString();
  EXPECT_TRUE(forward->ignored.empty());
  EXPECT_EQ(forward->mapped, expected);

  auto backward = MapControlNetDiffusersNamesToLdm(diffusers_names);
  ASSERT_TRUE(backward.ok()) << backward.status().ToString();
  for (const auto& [ldm, name] : expected) EXPECT_EQ(backward->at(name), ldm) << name;
}

TEST(ControlNetNamesTest, UnprefixedKeysAndWholeCldmCheckpoints) {
  const std::vector<std::string> bare = {"input_hint_block.0.weight", "input_hint_block.2.weight",
                                         "input_hint_block.4.weight", "zero_convs.3.0.bias",
                                         "middle_block_out.0.weight", "input_blocks.0.0.weight",
                                         "input_blocks.3.0.op.weight"};
  auto map = MapControlNetLdmNames(bare);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->mapped.at("input_hint_block.0.weight"), "controlnet_cond_embedding.conv_in.weight");
  EXPECT_EQ(map->mapped.at("input_hint_block.2.weight"), "controlnet_cond_embedding.blocks.0.weight");
  EXPECT_EQ(map->mapped.at("input_hint_block.4.weight"), "controlnet_cond_embedding.conv_out.weight");
  EXPECT_EQ(map->mapped.at("zero_convs.3.0.bias"), "controlnet_down_blocks.3.bias");
  EXPECT_EQ(map->mapped.at("middle_block_out.0.weight"), "controlnet_mid_block.weight");
  EXPECT_EQ(map->mapped.at("input_blocks.3.0.op.weight"), "down_blocks.0.downsamplers.0.conv.weight");

  // A whole cldm checkpoint: the SD parts are not the ControlNet's and are ignored.
  auto whole = MapControlNetLdmNames({"control_model.zero_convs.0.0.weight",
                                      "model.diffusion_model.input_blocks.0.0.weight", "lvlb_weights"});
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->mapped.size(), 1u);
  EXPECT_EQ(whole->ignored.size(), 2u);
}

TEST(ControlNetNamesTest, UnknownControlNetKeysAreListedByName) {
  auto map = MapControlNetLdmNames({"control_model.zero_convs.0.0.weight", "control_model.output_blocks.0.0.in_layers.0.weight",
                                    "control_model.input_hint_block.1.weight", "control_model.mystery"});
  ASSERT_FALSE(map.ok());
  const std::string message = map.status().message();
  EXPECT_NE(message.find("3 unexpected"), std::string::npos) << message;
  EXPECT_NE(message.find("control_model.output_blocks.0.0.in_layers.0.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("control_model.input_hint_block.1.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("control_model.mystery"), std::string::npos) << message;

  auto back = MapControlNetDiffusersNamesToLdm({"controlnet_mid_block.weight", "up_blocks.0.resnets.0.conv1.weight"});
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("up_blocks.0.resnets.0.conv1.weight"), std::string::npos);
}

TEST(ControlNetCheckpointTest, LoadsBothLayoutsAndRefusesOtherFiles) {
  const auto f = at::TensorOptions().dtype(at::kFloat);
  TensorMap original = {{"control_model.zero_convs.0.0.weight", at::ones({2, 2, 1, 1}, f)},
                        {"control_model.zero_convs.0.0.bias", at::ones({2}, f.dtype(at::kHalf))},
                        {"model.diffusion_model.out.0.weight", at::ones({2}, f)}};
  ASSERT_TRUE(WriteSafetensors(Scratch("original.safetensors"), original).ok());
  auto loaded = LoadControlNetCheckpoint(Scratch("original.safetensors"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(loaded->original_layout);
  EXPECT_EQ(loaded->weights.size(), 2u);
  EXPECT_EQ(loaded->weights.at("controlnet_down_blocks.0.bias").scalar_type(), at::kFloat);
  EXPECT_EQ(loaded->ignored_keys, std::vector<std::string>{"model.diffusion_model.out.0.weight"});

  fs::create_directories(Scratch("folder"));
  TensorMap diffusers = {{"controlnet_mid_block.weight", at::ones({2, 2, 1, 1}, f)}};
  ASSERT_TRUE(WriteSafetensors(Scratch("folder/diffusion_pytorch_model.safetensors"), diffusers).ok());
  auto folder = LoadControlNetCheckpoint(Scratch("folder"));
  ASSERT_TRUE(folder.ok()) << folder.status().ToString();
  EXPECT_FALSE(folder->original_layout);
  EXPECT_EQ(folder->weights.count("controlnet_mid_block.weight"), 1u);

  TensorMap sd = {{"model.diffusion_model.input_blocks.0.0.weight", at::ones({2}, f)}};
  ASSERT_TRUE(WriteSafetensors(Scratch("sd.safetensors"), sd).ok());
  auto not_controlnet = LoadControlNetCheckpoint(Scratch("sd.safetensors"));
  ASSERT_FALSE(not_controlnet.ok());
  EXPECT_NE(not_controlnet.status().message().find("not a ControlNet"), std::string::npos);

  auto missing = LoadControlNetCheckpoint(Scratch("absent.safetensors"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto empty_folder = LoadControlNetCheckpoint(testing::ScratchDir());
  EXPECT_FALSE(empty_folder.ok());

  std::ofstream(Scratch("control.pth")) << "PK\x03\x04 pickle";
  auto pickle = LoadControlNetCheckpoint(Scratch("control.pth"));
  ASSERT_FALSE(pickle.ok());
  EXPECT_NE(pickle.status().message().find("pickle"), std::string::npos) << pickle.status().ToString();

  // A truncated file is an error, not a crash.
  std::ifstream in(Scratch("original.safetensors"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(Scratch("truncated.safetensors"), std::ios::binary) << bytes.substr(0, bytes.size() - 5);
  EXPECT_FALSE(LoadControlNetCheckpoint(Scratch("truncated.safetensors")).ok());
}

TEST(ControlNetCheckpointTest, DiffusersNamesWriteBackToTheOriginalLayout) {
  const auto f = at::TensorOptions().dtype(at::kFloat);
  TensorMap diffusers = {{"controlnet_cond_embedding.conv_in.weight", at::ones({4, 3, 3, 3}, f)},
                         {"controlnet_cond_embedding.blocks.0.weight", at::ones({4, 4, 3, 3}, f)},
                         {"controlnet_cond_embedding.blocks.1.weight", at::ones({8, 4, 3, 3}, f)},
                         {"controlnet_cond_embedding.conv_out.weight", at::ones({8, 8, 3, 3}, f)},
                         {"mid_block.resnets.1.conv1.weight", at::ones({8, 8, 3, 3}, f)}};
  auto ldm = ControlNetToLdm(diffusers);
  ASSERT_TRUE(ldm.ok()) << ldm.status().ToString();
  EXPECT_EQ(ldm->count("control_model.input_hint_block.0.weight"), 1u);
  EXPECT_EQ(ldm->count("control_model.input_hint_block.2.weight"), 1u);
  EXPECT_EQ(ldm->count("control_model.input_hint_block.4.weight"), 1u);
  EXPECT_EQ(ldm->count("control_model.input_hint_block.6.weight"), 1u);
  EXPECT_EQ(ldm->count("control_model.middle_block.2.in_layers.2.weight"), 1u);
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : *ldm) keys.push_back(key);
  auto again = MapControlNetLdmNames(keys);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  for (const auto& [key, name] : again->mapped) EXPECT_EQ(diffusers.count(name), 1u) << key << " -> " << name;
}

}  // namespace
}  // namespace farm::sd
