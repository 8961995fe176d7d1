#include "farm/sd/architecture.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "farm/sd/json.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

// The generated names and shapes of SD 1.5 must be exactly those of a real checkpoint,
// as listed (with their diffusers names) in the reference key list.
TEST(ArchitectureTest, Sd15WeightsMatchTheRealCheckpointKeyList) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  std::ifstream in(dir + "/sd15_ldm_keys.json");
  std::stringstream text;
  text << in.rdbuf();
  auto doc = Json::Parse(text.str());
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();

  std::map<std::string, WeightShapes> expected;
  for (const Json& entry : doc->Find("tensors")->items()) {
    std::vector<int64_t> shape;
    for (const Json& d : entry.Find("diffusers_shape")->items()) shape.push_back(*d.AsInt64());
    expected[entry.Find("diffusers_component")->text()][entry.Find("diffusers")->text()] = shape;
  }
  const SdArchitecture arch = Sd15Architecture();
  EXPECT_EQ(UNetWeightShapes(arch.unet), expected["unet"]);
  EXPECT_EQ(VaeWeightShapes(arch.vae), expected["vae"]);
  EXPECT_EQ(ClipTextWeightShapes(arch.text), expected["text_encoder"]);
  EXPECT_EQ(expected["unet"].size() + expected["vae"].size() + expected["text_encoder"].size(), 1130u);
}

// The same for the standard SD 1.5 ControlNet (diffusers' default conditioning widths).
TEST(ArchitectureTest, Sd15ControlNetWeightsMatchTheReferenceList) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  std::ifstream in(dir + "/sd15_ldm_keys.json");
  std::stringstream text;
  text << in.rdbuf();
  auto doc = Json::Parse(text.str());
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  ASSERT_NE(doc->Find("controlnet_tensors"), nullptr);
  WeightShapes expected;
  for (const Json& entry : doc->Find("controlnet_tensors")->items()) {
    std::vector<int64_t> shape;
    for (const Json& d : entry.Find("shape")->items()) shape.push_back(*d.AsInt64());
    expected[entry.Find("diffusers")->text()] = shape;
  }
  EXPECT_EQ(ControlNetWeightShapes(Sd15Architecture().unet, ControlNetArchitecture{}), expected);
}

TEST(ArchitectureTest, ShortcutConvsFollowChannelChanges) {
  UNetArchitecture unet = TinyArchitecture().unet;
  unet.block_channels = {8, 16, 16, 16};
  WeightShapes shapes = UNetWeightShapes(unet);
  EXPECT_TRUE(shapes.count("down_blocks.1.resnets.0.conv_shortcut.weight"));
  EXPECT_FALSE(shapes.count("down_blocks.2.resnets.0.conv_shortcut.weight"));
  // Every up-path resnet concatenates a skip, so its input width always changes.
  EXPECT_TRUE(shapes.count("up_blocks.0.resnets.0.conv_shortcut.weight"));
}

TEST(ArchitectureTest, MetadataRoundTripsAndRejectsGarbage) {
  SdArchitecture tiny = TinyArchitecture();
  SdArchitecture read = Sd15Architecture();
  ASSERT_TRUE(ApplyArchitectureMetadata(ArchitectureMetadata(tiny), read).ok());
  EXPECT_EQ(read.unet.heads, tiny.unet.heads);
  EXPECT_EQ(read.unet.norm_groups, tiny.unet.norm_groups);
  EXPECT_EQ(read.vae.norm_groups, tiny.vae.norm_groups);
  EXPECT_EQ(read.text.heads, tiny.text.heads);

  Status bad = ApplyArchitectureMetadata({{kMetadataClipHeads, "4x"}}, read);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find(kMetadataClipHeads), std::string::npos);
  EXPECT_FALSE(ApplyArchitectureMetadata({{kMetadataUNetHeads, "0"}}, read).ok());
}

}  // namespace
}  // namespace farm::sd
