// LoRA files in diffusers and PEFT naming (and attention-processor files) merge to exactly
// the weights of the same LoRA in kohya naming; an unknown module is named as the file
// names it, and one module named twice is a problem.
#include "lora_formats_fixture.h"

namespace farm::sd {
namespace {

using testing::ChangedKeys;
using testing::DeepCopy;

// The tiny kohya LoRA rewritten in each diffusers/PEFT naming merges to exactly the same
// weights (same modules, same scale, same arithmetic) and unmerges bit-exactly.
TEST_F(LoraFormatsTest, DiffusersAndPeftNamingsMergeExactlyLikeKohya) {
  const double multiplier = 0.8;
  const SdWeights kohya = MergedCopy(lora_, multiplier);
  ASSERT_FALSE(kohya.unet.empty());
  const std::string alpha_json = R"({"r": 4, "lora_alpha": )" + std::to_string(lora_.modules[0].alpha) + "}";

  struct Naming {
    std::string name;
    std::string unet_prefix, text_prefix;  // before the module path
    std::string down, up;                  // after it
    std::string text_down, text_up;
    bool alpha_tensors;
  };
  const std::vector<Naming> namings = {
      {"peft_pipeline", "unet.", "text_encoder.", ".lora_A.weight", ".lora_B.weight", ".lora_A.weight",
       ".lora_B.weight", true},
      {"peft_model", "base_model.model.", "", ".lora_A.weight", ".lora_B.weight", ".lora_A.weight",
       ".lora_B.weight", false},
      {"diffusers_old", "unet.", "text_encoder.", ".lora.down.weight", ".lora.up.weight",
       ".lora_linear_layer.down.weight", ".lora_linear_layer.up.weight", false},
  };
  for (const Naming& naming : namings) {
    SCOPED_TRACE(naming.name);
    TensorMap tensors;
    for (const LoraModule& module : lora_.modules) {
      const Diffusers& where = diffusers_.at(module.name);
      const bool unet = where.component == "unet";
      const std::string stem = (unet ? naming.unet_prefix : naming.text_prefix) + where.module;
      tensors[stem + (unet ? naming.down : naming.text_down)] = module.down;
      tensors[stem + (unet ? naming.up : naming.text_up)] = module.up;
      if (naming.alpha_tensors) tensors[stem + ".alpha"] = at::scalar_tensor(module.alpha);
    }
    std::map<std::string, std::string> metadata;
    if (!naming.alpha_tensors) metadata["lora_adapter_metadata"] = alpha_json;
    LoraFile file = WriteAndRead(naming.name + ".safetensors", tensors, metadata);
    ASSERT_TRUE(file.problems.empty()) << FormatLoraIssue(file.problems.front());
    ASSERT_EQ(file.modules.size(), lora_.modules.size());
    for (size_t i = 0; i < file.modules.size(); ++i) {
      EXPECT_EQ(file.modules[i].name, lora_.modules[i].name);
      EXPECT_DOUBLE_EQ(file.modules[i].alpha, lora_.modules[i].alpha) << file.modules[i].stored_name;
    }
    const SdWeights merged = MergedCopy(file, multiplier);
    ASSERT_FALSE(merged.unet.empty());
    EXPECT_TRUE(ChangedKeys(kohya.unet, merged.unet).empty());
    EXPECT_TRUE(ChangedKeys(kohya.text_encoder, merged.text_encoder).empty());
  }
}

// diffusers' attention-processor files (no alpha: scale 1) against the same modules in
// kohya naming without alpha.
TEST_F(LoraFormatsTest, AttentionProcessorNamingMergesLikeKohya) {
  const std::map<std::string, std::string> processor = {
      {".to_q", ".processor.to_q_lora"}, {".to_k", ".processor.to_k_lora"},
      {".to_v", ".processor.to_v_lora"}, {".to_out.0", ".processor.to_out_lora"},
      {".q_proj", ".to_q_lora"},         {".k_proj", ".to_k_lora"},
      {".v_proj", ".to_v_lora"},         {".out_proj", ".to_out_lora"}};
  TensorMap kohya_tensors, processor_tensors;
  for (const LoraModule& module : lora_.modules) {
    const Diffusers& where = diffusers_.at(module.name);
    for (const auto& [projection, lora_name] : processor) {
      if (!where.module.ends_with(projection)) continue;
      const std::string stem = where.module.substr(0, where.module.size() - projection.size()) + lora_name;
      const std::string prefix = where.component == "unet" ? "unet." : "text_encoder.";
      processor_tensors[prefix + stem + ".down.weight"] = module.down;
      processor_tensors[prefix + stem + ".up.weight"] = module.up;
      kohya_tensors[module.name + ".lora_down.weight"] = module.down;
      kohya_tensors[module.name + ".lora_up.weight"] = module.up;
    }
  }
  ASSERT_GT(kohya_tensors.size(), 24u);
  LoraFile kohya = WriteAndRead("kohya_attention.safetensors", kohya_tensors);
  LoraFile attn = WriteAndRead("attn_procs.safetensors", processor_tensors);
  ASSERT_TRUE(attn.problems.empty()) << FormatLoraIssue(attn.problems.front());
  ASSERT_EQ(attn.modules.size(), kohya.modules.size());
  const SdWeights expected = MergedCopy(kohya, 1.0);
  const SdWeights merged = MergedCopy(attn, 1.0);
  ASSERT_FALSE(merged.unet.empty());
  EXPECT_FALSE(ChangedKeys(weights_.unet, merged.unet).empty());
  EXPECT_TRUE(ChangedKeys(expected.unet, merged.unet).empty());
  EXPECT_TRUE(ChangedKeys(expected.text_encoder, merged.text_encoder).empty());
}

TEST_F(LoraFormatsTest, UnknownPeftModuleIsNamedAsTheFileNamesIt) {
  TensorMap tensors = {{"unet.down_blocks.0.attentions.0.proj_inn.lora_A.weight", at::ones({2, 16, 1, 1})},
                       {"unet.down_blocks.0.attentions.0.proj_inn.lora_B.weight", at::ones({16, 2, 1, 1})}};
  auto lora = LoraFromTensors(tensors, "typo.safetensors");
  ASSERT_TRUE(lora.ok());
  auto refused = MergeLoras(weights_, {{&*lora, 1.0}});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(
                "typo.safetensors: unet.down_blocks.0.attentions.0.proj_inn: unknown module"),
            std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("looked up as lora_unet_down_blocks_0_attentions_0_proj_inn"),
            std::string::npos)
      << refused.status().message();
}


TEST_F(LoraFormatsTest, TwoNamingsOfOneModuleAreAProblem) {
  const LoraModule& module = lora_.modules.front();
  const Diffusers& where = diffusers_.at(module.name);
  const std::string stem = where.component + "." + where.module;  // "text_encoder.text_model..."
  TensorMap tensors = {{module.name + ".lora_down.weight", module.down},
                       {module.name + ".lora_up.weight", module.up},
                       {stem + ".lora_A.weight", module.down},
                       {stem + ".lora_B.weight", module.up}};
  auto lora = LoraFromTensors(tensors, "twice");
  ASSERT_TRUE(lora.ok());
  EXPECT_TRUE(lora->modules.empty());
  ASSERT_EQ(lora->problems.size(), 1u);
  EXPECT_NE(lora->problems[0].message.find("given more than once"), std::string::npos)
      << FormatLoraIssue(lora->problems[0]);
}


}  // namespace
}  // namespace farm::sd
