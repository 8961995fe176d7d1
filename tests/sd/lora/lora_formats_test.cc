// LoRA files as people find them: kohya LoCon (conv modules in ResNet blocks and
// samplers), the diffusers/PEFT namings, LyCORIS LoHa and LoKr (A1111's math), and other
// kinds refused by name. Every file is made here from the tiny model's own weights.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "farm/sd/checkpoint.h"
#include "farm/sd/lora.h"
#include "farm/sd/lora_naming.h"
#include "farm/sd/safetensors.h"
#include "lora_test_util.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

using testing::ChangedKeys;
using testing::DeepCopy;

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

// The tiny model, its kohya LoRA, and what each of its modules is in diffusers terms.
class LoraFormatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::FindSd15ReferenceDir();
    if (!dir) GTEST_SKIP() << "sd15 reference data not found (set FARM_SD_REFERENCE)";
    dir_ = *dir;
    auto weights = LoadCheckpoint(dir_ + "/tiny_ldm.safetensors");
    ASSERT_TRUE(weights.ok()) << weights.status().ToString();
    weights_ = std::move(weights).value();
    auto lora = ReadLoraFile(dir_ + "/tiny_lora.safetensors");
    ASSERT_TRUE(lora.ok()) << lora.status().ToString();
    lora_ = std::move(lora).value();
    Json config = testing::ReadJsonFile(dir_ + "/tiny_config.json");
    for (const Json& module : config.Find("lora")->Find("modules")->items()) {
      diffusers_[module.Find("kohya")->text()] = {module.Find("component")->text(),
                                                  module.Find("diffusers_module")->text()};
    }
    ASSERT_EQ(diffusers_.size(), lora_.modules.size());
  }

  // Merges `lora`, returns the merged weights, and checks that unmerging restores every
  // weight of the model bit for bit.
  SdWeights MergedCopy(const LoraFile& lora, double multiplier) {
    const SdWeights before{DeepCopy(weights_.unet), DeepCopy(weights_.vae),
                           DeepCopy(weights_.text_encoder), {}};
    auto merged = MergeLoras(weights_, {{&lora, multiplier}});
    EXPECT_TRUE(merged.ok()) << merged.status().ToString();
    if (!merged.ok()) return {};
    EXPECT_EQ(merged->report().applied.size(), lora.modules.size());
    SdWeights result{DeepCopy(weights_.unet), {}, DeepCopy(weights_.text_encoder), {}};
    EXPECT_TRUE(merged->Unmerge().ok());
    EXPECT_TRUE(ChangedKeys(before.unet, weights_.unet).empty()) << lora.source;
    EXPECT_TRUE(ChangedKeys(before.text_encoder, weights_.text_encoder).empty()) << lora.source;
    EXPECT_TRUE(ChangedKeys(before.vae, weights_.vae).empty()) << lora.source;
    return result;
  }

  LoraFile WriteAndRead(const std::string& name, const TensorMap& tensors,
                        const std::map<std::string, std::string>& metadata = {}) {
    const std::string path = testing::ScratchPath("lora_formats", name);
    EXPECT_TRUE(WriteSafetensors(path, tensors, metadata).ok()) << path;
    auto lora = ReadLoraFile(path);
    EXPECT_TRUE(lora.ok()) << lora.status().ToString();
    return lora.ok() ? std::move(lora).value() : LoraFile{};
  }

  struct Diffusers {
    std::string component;  // "unet", "text_encoder"
    std::string module;     // diffusers module path
  };
  std::string dir_;
  SdWeights weights_;
  LoraFile lora_;
  std::map<std::string, Diffusers> diffusers_;  // by kohya name
};

// kohya conv_dim (LoCon): a kxk lora_down conv then a 1x1 lora_up conv on the ResNet
// convs, the shortcut and the samplers; the merged conv must equal the base conv plus
// the two LoRA convs applied in sequence.
TEST_F(LoraFormatsTest, LoconModulesMergeAsTheirTwoConvsAndRestoreExactly) {
  struct Conv {
    std::string module;
    int64_t stride;
  };
  const std::vector<Conv> convs = {{"down_blocks.0.resnets.0.conv1", 1},
                                   {"down_blocks.1.resnets.0.conv2", 1},
                                   {"down_blocks.1.resnets.0.conv_shortcut", 1},
                                   {"down_blocks.0.downsamplers.0.conv", 2},
                                   {"up_blocks.0.upsamplers.0.conv", 1},
                                   {"mid_block.resnets.0.conv1", 1}};
  const int64_t rank = 4;
  const double alpha = 1.0, multiplier = 0.7;
  at::manual_seed(11);
  TensorMap tensors;
  for (const Conv& conv : convs) {
    const at::Tensor& weight = weights_.unet.at(conv.module + ".weight");
    const std::string kohya = KohyaModuleName(kLoraUnetPrefix, conv.module);
    tensors[kohya + ".lora_down.weight"] =
        0.3 * at::randn({rank, weight.size(1), weight.size(2), weight.size(3)});
    tensors[kohya + ".lora_up.weight"] = 0.3 * at::randn({weight.size(0), rank, 1, 1});
    tensors[kohya + ".alpha"] = at::scalar_tensor(alpha);
  }
  // A LoCon file also carries the ResNet block's linear time projection.
  const std::string time_emb = KohyaModuleName(kLoraUnetPrefix, "down_blocks.0.resnets.0.time_emb_proj");
  const at::Tensor& time_weight = weights_.unet.at("down_blocks.0.resnets.0.time_emb_proj.weight");
  tensors[time_emb + ".lora_down.weight"] = at::randn({rank, time_weight.size(1)});
  tensors[time_emb + ".lora_up.weight"] = at::randn({time_weight.size(0), rank});
  LoraFile locon = WriteAndRead("locon.safetensors", tensors, {{"ss_network_module", "networks.lora"},
                                                              {"ss_network_args", R"({"conv_dim": "4"})"}});
  ASSERT_TRUE(locon.problems.empty()) << FormatLoraIssue(locon.problems.front());
  ASSERT_EQ(locon.modules.size(), convs.size() + 1);

  const TensorMap base = DeepCopy(weights_.unet);
  SdWeights merged = MergedCopy(locon, multiplier);
  ASSERT_FALSE(merged.unet.empty());
  const double scale = multiplier * alpha / rank;
  for (const Conv& conv : convs) {
    const std::string kohya = KohyaModuleName(kLoraUnetPrefix, conv.module);
    const at::Tensor w = base.at(conv.module + ".weight").to(at::kDouble);
    const int64_t padding = w.size(2) / 2;
    const at::Tensor x = at::randn({2, w.size(1), 8, 8}, at::kDouble);
    const at::Tensor down = tensors.at(kohya + ".lora_down.weight").to(at::kDouble);
    const at::Tensor up = tensors.at(kohya + ".lora_up.weight").to(at::kDouble);
    const at::Tensor expected =
        at::conv2d(x, w, {}, conv.stride, padding) +
        scale * at::conv2d(at::conv2d(x, down, {}, conv.stride, padding), up);
    const at::Tensor got = at::conv2d(x, merged.unet.at(conv.module + ".weight").to(at::kDouble), {},
                                      conv.stride, padding);
    EXPECT_LE(testing::MaxAbsDiff(got, expected), 1e-5) << conv.module;
  }
  const at::Tensor t = at::randn({3, time_weight.size(1)}, at::kDouble);
  const at::Tensor expected =
      at::linear(t, base.at("down_blocks.0.resnets.0.time_emb_proj.weight").to(at::kDouble)) +
      multiplier * at::linear(at::linear(t, tensors.at(time_emb + ".lora_down.weight").to(at::kDouble)),
                              tensors.at(time_emb + ".lora_up.weight").to(at::kDouble));
  EXPECT_LE(testing::MaxAbsDiff(
                at::linear(t, merged.unet.at("down_blocks.0.resnets.0.time_emb_proj.weight").to(at::kDouble)),
                expected),
            1e-5);
  // Nothing but the targeted weights changed.
  std::vector<std::string> changed = ChangedKeys(base, merged.unet);
  EXPECT_EQ(changed.size(), convs.size() + 1);
}

// LyCORIS LoCon with a Tucker core (use_tucker / older use_conv_cp): a 1x1 down, a kxk
// lora_mid and a 1x1 up; the merged conv must equal the three convs in sequence.
TEST_F(LoraFormatsTest, TuckerLoconMergesAsItsThreeConvs) {
  struct Conv {
    std::string module;
    int64_t stride;
  };
  const std::vector<Conv> convs = {{"down_blocks.0.resnets.1.conv1", 1}, {"down_blocks.1.downsamplers.0.conv", 2}};
  const int64_t rank = 3;
  const double alpha = 1.5, multiplier = 0.9;
  at::manual_seed(12);
  TensorMap tensors;
  for (const Conv& conv : convs) {
    const at::Tensor& weight = weights_.unet.at(conv.module + ".weight");
    const std::string kohya = KohyaModuleName(kLoraUnetPrefix, conv.module);
    tensors[kohya + ".lora_down.weight"] = 0.3 * at::randn({rank, weight.size(1), 1, 1});
    tensors[kohya + ".lora_mid.weight"] = 0.3 * at::randn({rank, rank, weight.size(2), weight.size(3)});
    tensors[kohya + ".lora_up.weight"] = 0.3 * at::randn({weight.size(0), rank, 1, 1});
    tensors[kohya + ".alpha"] = at::scalar_tensor(alpha);
  }
  LoraFile locon = WriteAndRead("tucker_locon.safetensors", tensors);
  ASSERT_TRUE(locon.problems.empty()) << FormatLoraIssue(locon.problems.front());
  ASSERT_EQ(locon.modules.size(), convs.size());
  const TensorMap base = DeepCopy(weights_.unet);
  SdWeights merged = MergedCopy(locon, multiplier);
  ASSERT_FALSE(merged.unet.empty());
  for (const Conv& conv : convs) {
    const std::string kohya = KohyaModuleName(kLoraUnetPrefix, conv.module);
    const at::Tensor w = base.at(conv.module + ".weight").to(at::kDouble);
    const at::Tensor x = at::randn({2, w.size(1), 8, 8}, at::kDouble);
    const at::Tensor path =
        at::conv2d(at::conv2d(at::conv2d(x, tensors.at(kohya + ".lora_down.weight").to(at::kDouble)),
                              tensors.at(kohya + ".lora_mid.weight").to(at::kDouble), {}, conv.stride, 1),
                   tensors.at(kohya + ".lora_up.weight").to(at::kDouble));
    const at::Tensor expected = at::conv2d(x, w, {}, conv.stride, 1) + multiplier * alpha / rank * path;
    const at::Tensor got =
        at::conv2d(x, merged.unet.at(conv.module + ".weight").to(at::kDouble), {}, conv.stride, 1);
    EXPECT_LE(testing::MaxAbsDiff(got, expected), 1e-5) << conv.module;
  }
  EXPECT_EQ(ChangedKeys(base, merged.unet).size(), convs.size());

  // A lora_mid with a 3x3 down is not a Tucker LoCon.
  const std::string bad = KohyaModuleName(kLoraUnetPrefix, convs[0].module);
  tensors[bad + ".lora_down.weight"] = at::ones({rank, 16, 3, 3});
  auto refused = LoraFromTensors(tensors, "bad_tucker");
  ASSERT_TRUE(refused.ok());
  ASSERT_EQ(refused->problems.size(), 1u);
  EXPECT_NE(refused->problems[0].message.find("a Tucker LoCon needs a 1x1 down"), std::string::npos)
      << FormatLoraIssue(refused->problems[0]);
}

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

// Files holding only kinds StudioFarm does not apply are refused by name.
TEST_F(LoraFormatsTest, GloraAndDoraFilesAreRefusedByName) {
  const std::string proj_in = "lora_unet_down_blocks_0_attentions_0_proj_in";
  const std::string conv1 = "lora_unet_down_blocks_0_resnets_0_conv1";
  const TensorMap glora = {
      {proj_in + ".a1.weight", at::ones({2, 16})}, {proj_in + ".a2.weight", at::ones({16, 2})},
      {proj_in + ".b1.weight", at::ones({2, 16})}, {proj_in + ".b2.weight", at::ones({16, 2})},
      {proj_in + ".alpha", at::scalar_tensor(1.0)},
      {conv1 + ".a1.weight", at::ones({2, 16})},   {conv1 + ".a2.weight", at::ones({16, 2})}};
  const TensorMap dora = {{"unet.down_blocks.0.attentions.0.proj_in.lora_A.weight", at::ones({2, 16, 1, 1})},
                          {"unet.down_blocks.0.attentions.0.proj_in.lora_B.weight", at::ones({16, 2, 1, 1})},
                          {"unet.down_blocks.0.attentions.0.proj_in.lora_magnitude_vector", at::ones({16})}};
  for (const auto& [name, tensors, kind, module] :
       {std::tuple{"glora.safetensors", glora, "this is a GLoRA (LyCORIS) file (2 module(s)", proj_in},
        std::tuple{"dora.safetensors", dora, "this is a DoRA file (1 module(s)",
                   std::string("unet.down_blocks.0.attentions.0.proj_in")}}) {
    const std::string path = testing::ScratchPath("lora_formats", name);
    ASSERT_TRUE(WriteSafetensors(path, tensors, {{"ss_network_module", "lycoris.kohya"}}).ok());
    auto read = ReadLoraFile(path);
    ASSERT_FALSE(read.ok()) << name;
    const std::string& message = read.status().message();
    EXPECT_NE(message.find(path + ": " + kind), std::string::npos) << message;
    EXPECT_NE(message.find(module), std::string::npos) << message;
    EXPECT_NE(message.find("StudioFarm applies LoRA and LoCon"), std::string::npos) << message;
  }
}

// Independent double-precision references for the LyCORIS products (A1111's formulas,
// written without einsum or kron).
at::Tensor D(const at::Tensor& t) { return t.to(at::kDouble); }

// cp(t, wa, wb)[o,i,k,l] = sum_{r,s} t[r,s,k,l] wa[r,o] wb[s,i].
at::Tensor TuckerDouble(const at::Tensor& t, const at::Tensor& wa, const at::Tensor& wb) {
  at::Tensor per_tap = at::matmul(at::matmul(D(wa).t(), D(t).permute({2, 3, 0, 1})), D(wb));
  return per_tap.permute({2, 3, 0, 1});  // [k,l,o,i] -> [o,i,k,l]
}

// kron(a [p,q], b [c,d(,k,l)]) -> [p*c, q*d(,k,l)].
at::Tensor KronDouble(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor x = D(a), y = D(b);
  if (y.dim() == 2) {
    return (x.view({x.size(0), 1, x.size(1), 1}) * y.view({1, y.size(0), 1, y.size(1)}))
        .reshape({x.size(0) * y.size(0), x.size(1) * y.size(1)});
  }
  return (x.view({x.size(0), 1, x.size(1), 1, 1, 1}) *
          y.view({1, y.size(0), 1, y.size(1), y.size(2), y.size(3)}))
      .reshape({x.size(0) * y.size(0), x.size(1) * y.size(1), y.size(2), y.size(3)});
}

struct LycorisCase {
  std::string module;    // diffusers module path in the UNet
  TensorMap factors;     // by factor name
  double alpha;          // < 0: no alpha tensor
  at::Tensor product;    // the expected unscaled product, double, any shape of the weight's size
  double scale;          // alpha / rank as A1111 computes it
};

// Writes the cases as one file, merges it, checks every weight against
// W + multiplier * scale * product, then that unmerging restores the model bit for bit.
void CheckLycorisMerge(SdWeights& weights, const std::vector<LycorisCase>& cases, const std::string& name,
                       LoraModuleKind kind) {
  TensorMap tensors;
  for (const LycorisCase& c : cases) {
    const std::string kohya = KohyaModuleName(kLoraUnetPrefix, c.module);
    for (const auto& [factor, tensor] : c.factors) tensors[kohya + "." + factor] = tensor;
    if (c.alpha >= 0) tensors[kohya + ".alpha"] = at::scalar_tensor(c.alpha);
  }
  const std::string path = testing::ScratchPath("lora_formats", name);
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"ss_network_module", "lycoris.kohya"}}).ok());
  auto lora = ReadLoraFile(path);
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  ASSERT_TRUE(lora->problems.empty()) << FormatLoraIssue(lora->problems.front());
  ASSERT_EQ(lora->modules.size(), cases.size());
  for (const LoraModule& module : lora->modules) EXPECT_EQ(module.kind, kind) << module.name;

  const TensorMap unet = DeepCopy(weights.unet);
  const double multiplier = 0.6;
  auto merged = MergeLoras(weights, {{&*lora, multiplier}});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  for (const LycorisCase& c : cases) {
    const at::Tensor& before = unet.at(c.module + ".weight");
    const at::Tensor expected =
        D(before) + multiplier * c.scale * c.product.reshape(before.sizes());
    EXPECT_LE(testing::MaxAbsDiff(weights.unet.at(c.module + ".weight"), expected), 1e-6) << c.module;
  }
  EXPECT_EQ(ChangedKeys(unet, weights.unet).size(), cases.size());
  ASSERT_TRUE(merged->Unmerge().ok());
  EXPECT_TRUE(ChangedKeys(unet, weights.unet).empty());
}

// LoHa: (w1_a @ w1_b) * (w2_a @ w2_b), or Tucker cores for convs; scale alpha / w1_b rows.
TEST_F(LoraFormatsTest, LohaModulesMergeWithA1111MathAndRestoreExactly) {
  at::manual_seed(21);
  auto r = [](std::vector<int64_t> shape) { return 0.5 * at::randn(shape); };
  std::vector<LycorisCase> cases;
  {  // a linear layer
    TensorMap f = {{"hada_w1_a", r({16, 2})}, {"hada_w1_b", r({2, 32})},
                   {"hada_w2_a", r({16, 2})}, {"hada_w2_b", r({2, 32})}};
    at::Tensor product = at::matmul(D(f["hada_w1_a"]), D(f["hada_w1_b"])) *
                         at::matmul(D(f["hada_w2_a"]), D(f["hada_w2_b"]));
    cases.push_back({"down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k", f, 1.0, product, 0.5});
  }
  {  // a 1x1 conv from 2-D factors (no alpha: scale 1)
    TensorMap f = {{"hada_w1_a", r({16, 3})}, {"hada_w1_b", r({3, 16})},
                   {"hada_w2_a", r({16, 3})}, {"hada_w2_b", r({3, 16})}};
    at::Tensor product = at::matmul(D(f["hada_w1_a"]), D(f["hada_w1_b"])) *
                         at::matmul(D(f["hada_w2_a"]), D(f["hada_w2_b"]));
    cases.push_back({"down_blocks.0.attentions.0.proj_in", f, -1, product, 1.0});
  }
  {  // a 3x3 conv with flattened w_b [r, in*3*3]
    TensorMap f = {{"hada_w1_a", r({16, 4})}, {"hada_w1_b", r({4, 16 * 9})},
                   {"hada_w2_a", r({16, 4})}, {"hada_w2_b", r({4, 16 * 9})}};
    at::Tensor product = at::matmul(D(f["hada_w1_a"]), D(f["hada_w1_b"])) *
                         at::matmul(D(f["hada_w2_a"]), D(f["hada_w2_b"]));
    cases.push_back({"down_blocks.0.resnets.0.conv1", f, 2.0, product, 0.5});
  }
  {  // a 3x3 conv with Tucker cores (use_tucker)
    TensorMap f = {{"hada_w1_a", r({2, 16})}, {"hada_w1_b", r({2, 16})}, {"hada_t1", r({2, 2, 3, 3})},
                   {"hada_w2_a", r({2, 16})}, {"hada_w2_b", r({2, 16})}, {"hada_t2", r({2, 2, 3, 3})}};
    at::Tensor product = TuckerDouble(f["hada_t1"], f["hada_w1_a"], f["hada_w1_b"]) *
                         TuckerDouble(f["hada_t2"], f["hada_w2_a"], f["hada_w2_b"]);
    cases.push_back({"down_blocks.0.resnets.0.conv2", f, 1.0, product, 0.5});
  }
  CheckLycorisMerge(weights_, cases, "loha.safetensors", LoraModuleKind::kLoha);
}

// LoKr: kron(w1, w2) with full or low-rank factors, a 4-D w2 for convs, or a Tucker w2.
TEST_F(LoraFormatsTest, LokrModulesMergeWithA1111MathAndRestoreExactly) {
  at::manual_seed(22);
  auto r = [](std::vector<int64_t> shape) { return 0.5 * at::randn(shape); };
  std::vector<LycorisCase> cases;
  {  // full w1, low-rank w2: scale alpha / w2_b rows
    TensorMap f = {{"lokr_w1", r({4, 4})}, {"lokr_w2_a", r({4, 2})}, {"lokr_w2_b", r({2, 8})}};
    at::Tensor product = KronDouble(f["lokr_w1"], at::matmul(D(f["lokr_w2_a"]), D(f["lokr_w2_b"])));
    cases.push_back({"down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k", f, 1.0, product, 0.5});
  }
  {  // both full: no rank, scale 1 whatever alpha says
    TensorMap f = {{"lokr_w1", r({2, 4})}, {"lokr_w2", r({8, 4})}};
    at::Tensor product = KronDouble(f["lokr_w1"], f["lokr_w2"]);
    cases.push_back({"down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q", f, 5.0, product, 1.0});
  }
  {  // a 3x3 conv: low-rank w1 (scale alpha / w1_b rows), 4-D w2
    TensorMap f = {{"lokr_w1_a", r({4, 1})}, {"lokr_w1_b", r({1, 4})}, {"lokr_w2", r({4, 4, 3, 3})}};
    at::Tensor product = KronDouble(at::matmul(D(f["lokr_w1_a"]), D(f["lokr_w1_b"])), f["lokr_w2"]);
    cases.push_back({"down_blocks.0.resnets.0.conv1", f, 3.0, product, 3.0});
  }
  {  // a 3x3 conv with a Tucker w2
    TensorMap f = {{"lokr_w1", r({4, 4})}, {"lokr_t2", r({2, 2, 3, 3})}, {"lokr_w2_a", r({2, 4})},
                   {"lokr_w2_b", r({2, 4})}};
    at::Tensor product =
        KronDouble(f["lokr_w1"], TuckerDouble(f["lokr_t2"], f["lokr_w2_a"], f["lokr_w2_b"]));
    cases.push_back({"down_blocks.0.resnets.0.conv2", f, 1.0, product, 0.5});
  }
  {  // a 3x3 conv from a 2-D w2 [c, d*3*3], reshaped to the weight as A1111 does
    TensorMap f = {{"lokr_w1", r({8, 8})}, {"lokr_w2_a", r({4, 2})}, {"lokr_w2_b", r({2, 4 * 9})}};
    at::Tensor product = KronDouble(f["lokr_w1"], at::matmul(D(f["lokr_w2_a"]), D(f["lokr_w2_b"])));
    cases.push_back({"down_blocks.1.resnets.1.conv1", f, 2.0, product, 1.0});
  }
  CheckLycorisMerge(weights_, cases, "lokr.safetensors", LoraModuleKind::kLokr);
}

TEST_F(LoraFormatsTest, BadLycorisFactorsAreNamed) {
  const std::string to_k = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k";
  const std::string to_q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
  const std::string conv1 = "lora_unet_down_blocks_0_resnets_0_conv1";
  const TensorMap tensors = {
      // no hada_w2_b
      {to_k + ".hada_w1_a", at::ones({16, 2})}, {to_k + ".hada_w1_b", at::ones({2, 32})},
      {to_k + ".hada_w2_a", at::ones({16, 2})},
      // LoKr that gives [16, 12]: the weight is [16, 16]
      {to_q + ".lokr_w1", at::ones({4, 4})}, {to_q + ".lokr_w2", at::ones({4, 3})},
      // LoHa and LoKr at once
      {conv1 + ".hada_w1_a", at::ones({16, 2})}, {conv1 + ".lokr_w1", at::ones({4, 4})}};
  auto lora = LoraFromTensors(tensors, "bad_lycoris");
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  ASSERT_EQ(lora->modules.size(), 1u);
  ASSERT_EQ(lora->problems.size(), 2u);
  EXPECT_EQ(lora->problems[0].name, to_k);
  EXPECT_NE(lora->problems[0].message.find("LoHa module without hada_w2_b"), std::string::npos);
  EXPECT_EQ(lora->problems[1].name, conv1);
  EXPECT_NE(lora->problems[1].message.find("mixes LoHa and LoKr factors"), std::string::npos);

  const TensorMap unet = DeepCopy(weights_.unet);
  auto refused = MergeLoras(weights_, {{&*lora, 1.0}});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(to_q + ": shape mismatch: weight unet/"
                                             "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight "
                                             "is [16, 16] but LoKr (LyCORIS) factors lokr_w1 [4, 4] lokr_w2 "
                                             "[4, 3] gives [16, 12]"),
            std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(ChangedKeys(unet, weights_.unet).empty());
}

// One LyCORIS or DoRA module in an otherwise plain LoRA: that module is a named problem,
// a strict merge refuses and changes nothing.
TEST_F(LoraFormatsTest, ForeignModulesInALoraFailAStrictMerge) {
  TensorMap tensors;
  for (const LoraModule& module : lora_.modules) {
    tensors[module.name + ".lora_down.weight"] = module.down;
    tensors[module.name + ".lora_up.weight"] = module.up;
  }
  const std::string conv1 = "lora_unet_down_blocks_0_resnets_0_conv1";
  tensors[conv1 + ".a1.weight"] = at::ones({2, 144});
  tensors[conv1 + ".a2.weight"] = at::ones({16, 2});
  tensors[conv1 + ".alpha"] = at::scalar_tensor(1.0);
  const std::string dora = lora_.modules.front().name;
  tensors[dora + ".dora_scale"] = at::ones({16, 1, 1, 1});
  auto lora = LoraFromTensors(tensors, "mixed");
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  EXPECT_EQ(lora->modules.size(), lora_.modules.size() - 1);
  ASSERT_EQ(lora->problems.size(), 2u);

  const TensorMap unet = DeepCopy(weights_.unet);
  auto refused = MergeLoras(weights_, {{&*lora, 1.0}});
  ASSERT_FALSE(refused.ok());
  const std::string& message = refused.status().message();
  EXPECT_NE(message.find("mixed: " + conv1 + ": this is a GLoRA (LyCORIS) module; StudioFarm applies"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("mixed: " + dora + ": this is a DoRA module"), std::string::npos) << message;
  EXPECT_TRUE(ChangedKeys(unet, weights_.unet).empty());
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
