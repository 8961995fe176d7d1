// LoRA key names as files spell them: kohya, diffusers/PEFT (lora_A/lora_B, lora.down/up,
// lora_linear_layer, attention processors) and the kinds StudioFarm refuses by name, each
// read as the one kohya module it is; PEFT's alpha from tensors, metadata or the rank.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "farm/sd/lora.h"
#include "farm/sd/lora_naming.h"

namespace farm::sd {
namespace {

std::optional<LoraKeyParts> Parse(const std::string& key) { return ParseLoraKey(key); }

void ExpectModule(const std::string& key, const std::string& module, LoraTensorRole role,
                  const std::string& stored) {
  auto parts = ParseLoraKey(key);
  ASSERT_TRUE(parts.has_value()) << key;
  EXPECT_EQ(parts->module, module) << key;
  EXPECT_EQ(parts->role, role) << key;
  EXPECT_EQ(parts->stored, stored) << key;
}

TEST(LoraNamingTest, KohyaDiffusersPeftAndProcessorNamesGiveOneModule) {
  const std::string to_q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
  const std::string attn = "down_blocks.0.attentions.0.transformer_blocks.0.attn1";
  const auto down = LoraTensorRole::kDown;
  const auto up = LoraTensorRole::kUp;
  ExpectModule(to_q + ".lora_down.weight", to_q, down, to_q);
  ExpectModule(to_q + ".alpha", to_q, LoraTensorRole::kAlpha, to_q);
  EXPECT_TRUE(Parse(to_q + ".lora_down.weight")->kohya);
  ExpectModule("unet." + attn + ".to_q.lora_A.weight", to_q, down, "unet." + attn + ".to_q");
  ExpectModule("unet." + attn + ".to_q.lora_B.weight", to_q, up, "unet." + attn + ".to_q");
  ExpectModule("unet." + attn + ".to_q.alpha", to_q, LoraTensorRole::kAlpha, "unet." + attn + ".to_q");
  ExpectModule("base_model.model." + attn + ".to_q.lora_A.weight", to_q, down,
               "base_model.model." + attn + ".to_q");
  ExpectModule(attn + ".to_q.lora_A.weight", to_q, down, attn + ".to_q");
  ExpectModule("unet." + attn + ".to_q.lora.up.weight", to_q, up, "unet." + attn + ".to_q");
  ExpectModule(attn + ".processor.to_q_lora.down.weight", to_q, down, attn + ".processor.to_q_lora");
  ExpectModule("unet." + attn + ".processor.to_out_lora.up.weight",
               "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0", up,
               "unet." + attn + ".processor.to_out_lora");
  EXPECT_FALSE(Parse("unet." + attn + ".to_q.lora_A.weight")->kohya);
  EXPECT_EQ(Parse("unet." + attn + ".to_q.lora_A.weight")->component, "unet");

  const std::string q_proj = "lora_te_text_model_encoder_layers_0_self_attn_q_proj";
  const std::string layer = "text_model.encoder.layers.0.self_attn";
  ExpectModule("text_encoder." + layer + ".q_proj.lora_A.weight", q_proj, down,
               "text_encoder." + layer + ".q_proj");
  ExpectModule(layer + ".q_proj.lora_B.weight", q_proj, up, layer + ".q_proj");
  ExpectModule("text_encoder." + layer + ".q_proj.lora_linear_layer.down.weight", q_proj, down,
               "text_encoder." + layer + ".q_proj");
  ExpectModule("text_encoder." + layer + ".to_q_lora.up.weight", q_proj, up,
               "text_encoder." + layer + ".to_q_lora");
  ExpectModule("text_encoder." + layer + ".to_out_lora.down.weight",
               "lora_te_text_model_encoder_layers_0_self_attn_out_proj", down,
               "text_encoder." + layer + ".to_out_lora");
  EXPECT_EQ(Parse(layer + ".q_proj.lora_B.weight")->component, "text_encoder");

  // Not LoRA tensors: a bare weight, a PEFT suffix without a module path, a "down" that
  // is no attention processor's.
  EXPECT_FALSE(Parse("unet." + attn + ".to_q.weight").has_value());
  EXPECT_FALSE(Parse("to_q.lora_A.weight").has_value());
  EXPECT_FALSE(Parse("unet." + attn + ".to_q.down.weight").has_value());
}

TEST(LoraNamingTest, OtherNetworkKindsAreNamed) {
  const std::map<std::string, std::string> kinds = {
      {"lora_unet_a_proj_in.a1.weight", "GLoRA (LyCORIS)"},
      {"lora_unet_a_proj_in.oft_blocks", "OFT"},
      {"lora_unet_a_proj_in.dora_scale", "DoRA"},
      {"unet.a.proj_in.lora_magnitude_vector", "DoRA"},
      {"lora_unet_a_proj_in.on_input", "(IA)^3 (LyCORIS)"},
      {"lora_unet_a_proj_in.diff", "full-weight difference (LyCORIS full)"},
  };
  for (const auto& [key, kind] : kinds) {
    auto refused = RefusedLoraKind(key);
    ASSERT_TRUE(refused.has_value()) << key;
    EXPECT_EQ(refused->kind, kind) << key;
    EXPECT_EQ(refused->module, "lora_unet_a_proj_in") << key;
  }
  EXPECT_FALSE(RefusedLoraKind("lora_unet_a_proj_in.lora_down.weight").has_value());
  EXPECT_FALSE(RefusedLoraKind("lora_unet_a_proj_in.hada_w1_a").has_value());
  EXPECT_FALSE(RefusedLoraKind("lora_unet_a_proj_in.lora_mid.weight").has_value());
  EXPECT_EQ(ParseLoraKey("lora_unet_a_proj_in.lora_mid.weight")->role, LoraTensorRole::kMid);
  // LoHa and LoKr factors are parsed: they are applied.
  for (const std::string factor : {"hada_w1_a", "hada_t2", "lokr_w1", "lokr_w2_b", "lokr_t2"}) {
    auto parts = ParseLoraKey("lora_unet_a_proj_in." + factor);
    ASSERT_TRUE(parts.has_value()) << factor;
    EXPECT_EQ(parts->role, LoraTensorRole::kFactor);
    EXPECT_EQ(parts->factor, factor);
    EXPECT_EQ(parts->module, "lora_unet_a_proj_in");
  }
  EXPECT_FALSE(RefusedLoraKind("unet.a.proj_in.lora_A.weight").has_value());
}

TEST(LoraNamingTest, PeftAlphaFromTensorsMetadataOrRank) {
  auto make = [](const std::string& stem, int64_t rank) {
    return TensorMap{{stem + ".lora_A.weight", at::ones({rank, 6})},
                     {stem + ".lora_B.weight", at::ones({5, rank})}};
  };
  TensorMap tensors = make("unet.a.to_q", 4);
  tensors.merge(make("text_encoder.text_model.b.q_proj", 4));
  tensors["unet.c.to_k.lora_A.weight"] = at::ones({9, 6});
  tensors["unet.c.to_k.lora_B.weight"] = at::ones({5, 9});
  tensors["unet.c.to_k.alpha"] = at::scalar_tensor(3.0);

  auto alphas = [&](const std::map<std::string, std::string>& metadata) {
    auto lora = LoraFromTensors(tensors, "peft", metadata);
    EXPECT_TRUE(lora.ok()) << lora.status().ToString();
    std::map<std::string, double> by_module;
    for (const LoraModule& module : lora->modules) by_module[module.stored_name] = module.alpha;
    EXPECT_EQ(by_module.size(), 3u);
    return by_module;
  };
  auto no_metadata = alphas({});
  EXPECT_DOUBLE_EQ(no_metadata["unet.a.to_q"], 4.0);  // none: alpha = rank, scale 1
  EXPECT_DOUBLE_EQ(no_metadata["text_encoder.text_model.b.q_proj"], 4.0);
  EXPECT_DOUBLE_EQ(no_metadata["unet.c.to_k"], 3.0);  // an .alpha tensor

  auto bare = alphas({{"lora_adapter_metadata", R"({"r": 4, "lora_alpha": 8})"}});
  EXPECT_DOUBLE_EQ(bare["unet.a.to_q"], 8.0);
  EXPECT_DOUBLE_EQ(bare["text_encoder.text_model.b.q_proj"], 8.0);
  EXPECT_DOUBLE_EQ(bare["unet.c.to_k"], 3.0);  // the tensor wins

  auto prefixed = alphas({{"lora_adapter_metadata",
                           R"({"unet.lora_alpha": 2, "text_encoder.lora_alpha": 16,
                               "text_encoder.use_rslora": true})"}});
  EXPECT_DOUBLE_EQ(prefixed["unet.a.to_q"], 2.0);
  // rsLoRA scales by lora_alpha / sqrt(r): 16 / 2 = 8 = alpha / r with alpha = 32.
  EXPECT_DOUBLE_EQ(prefixed["text_encoder.text_model.b.q_proj"], 32.0);

  auto pattern = LoraFromTensors(
      tensors, "peft", {{"lora_adapter_metadata", R"({"lora_alpha": 8, "alpha_pattern": {"to_q": 2}})"}});
  ASSERT_TRUE(pattern.ok());
  ASSERT_EQ(pattern->problems.size(), 1u);
  EXPECT_EQ(pattern->problems[0].name, "lora_adapter_metadata");
  EXPECT_NE(pattern->problems[0].message.find("alpha_pattern"), std::string::npos);
  auto broken = LoraFromTensors(tensors, "peft", {{"lora_adapter_metadata", "{not json"}});
  ASSERT_TRUE(broken.ok());
  ASSERT_EQ(broken->problems.size(), 1u);
  EXPECT_NE(broken->problems[0].message.find("lora_alpha"), std::string::npos);
}

}  // namespace
}  // namespace farm::sd
