#include "farm/sd/lora_key_map.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "lora_test_util.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

TEST(LoraKeyMapTest, KohyaNamesReplaceEveryDot) {
  EXPECT_EQ(KohyaModuleName(kLoraUnetPrefix, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"),
            "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q");
  EXPECT_EQ(KohyaModuleName(kLoraTextEncoderPrefix, "text_model.encoder.layers.5.self_attn.out_proj"),
            "lora_te_text_model_encoder_layers_5_self_attn_out_proj");
}

TEST(LoraKeyMapTest, MapsWeightsOnlyAndRefusesClashingNames) {
  LoraKeyMap map;
  map.AddComponent("unet", "lora_unet",
                   {"a.to_q.weight", "a.to_q.bias", "a.b_c.weight", "a_b.c.weight", "weight"});
  const LoraTarget* to_q = map.Find("lora_unet_a_to_q");
  ASSERT_NE(to_q, nullptr);
  EXPECT_EQ(to_q->component, "unet");
  EXPECT_EQ(to_q->module, "a.to_q");
  EXPECT_EQ(to_q->weight_key, "a.to_q.weight");
  EXPECT_EQ(map.size(), 1u);
  // "a.b_c" and "a_b.c" both become lora_unet_a_b_c: refused, both weights named.
  EXPECT_EQ(map.Find("lora_unet_a_b_c"), nullptr);
  ASSERT_EQ(map.ambiguous().count("lora_unet_a_b_c"), 1u);
  EXPECT_EQ(map.ambiguous().at("lora_unet_a_b_c"),
            (std::vector<std::string>{"unet/a.b_c.weight", "unet/a_b.c.weight"}));
  EXPECT_EQ(map.Find("lora_unet_a_to_q_bias"), nullptr);
}

// All 350 kohya modules of full-size SD 1.5 (default targets and conv_dim ones), from a
// table built out of the diffusers weight names alone.
TEST(LoraKeyMapTest, FindsEveryFullSizeSd15Module) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  Json keys = testing::ReadJsonFile(dir + "/sd15_ldm_keys.json");
  ASSERT_TRUE(keys.is_object());
  std::map<std::string, std::vector<std::string>> names;  // component -> diffusers keys
  std::map<std::string, std::vector<int64_t>> shapes;     // "component/key" -> shape
  for (const Json& tensor : keys.Find("tensors")->items()) {
    const std::string component = tensor.Find("diffusers_component")->text();
    const std::string key = tensor.Find("diffusers")->text();
    names[component].push_back(key);
    shapes[component + "/" + key] = testing::JsonShape(*tensor.Find("diffusers_shape"));
  }
  LoraKeyMap map;
  map.AddComponent("unet", kLoraUnetPrefix, names["unet"]);
  map.AddComponent("text_encoder", kLoraTextEncoderPrefix, names["text_encoder"]);
  EXPECT_TRUE(map.ambiguous().empty());

  const Json* modules = keys.Find("kohya_lora_modules");
  ASSERT_NE(modules, nullptr);
  EXPECT_EQ(modules->items().size(), 350u);
  for (const Json& module : modules->items()) {
    const std::string kohya = module.Find("kohya")->text();
    const LoraTarget* target = map.Find(kohya);
    ASSERT_NE(target, nullptr) << kohya;
    EXPECT_EQ(target->component, module.Find("diffusers_component")->text()) << kohya;
    EXPECT_EQ(target->module, module.Find("diffusers_module")->text()) << kohya;
    EXPECT_EQ(shapes[target->component + "/" + target->weight_key],
              testing::JsonShape(*module.Find("weight_shape")))
        << kohya;
  }
}

}  // namespace
}  // namespace farm::sd
