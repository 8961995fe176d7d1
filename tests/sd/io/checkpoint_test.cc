#include "farm/sd/checkpoint.h"

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

std::string Scratch(const std::string& name) { return testing::ScratchPath("checkpoint", name); }

Json ReadJson(const std::string& path) { return testing::ReadJsonFile(path); }

std::vector<int64_t> JsonShape(const Json& shape) {
  std::vector<int64_t> out;
  for (const Json& dim : shape.items()) out.push_back(*dim.AsInt64());
  return out;
}

const TensorMap& Component(const SdWeights& weights, const std::string& name) {
  if (name == "unet") return weights.unet;
  if (name == "vae") return weights.vae;
  return weights.text_encoder;
}

TEST(CheckpointNamesTest, FullSd15KeysMapBothWays) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  const Json keys = ReadJson(dir + "/sd15_ldm_keys.json");
  const Json& entries = *keys.Find("tensors");
  ASSERT_EQ(entries.items().size(), 1130u);

  // Meta tensors carry the shapes without allocating SD 1.5's 4 GB.
  TensorMap ldm;
  for (const Json& entry : entries.items()) {
    ldm[entry.Find("ldm")->text()] = at::empty(JsonShape(*entry.Find("shape")), at::TensorOptions().device(at::kMeta));
  }
  ldm["alphas_cumprod"] = at::empty({1000}, at::TensorOptions().device(at::kMeta));
  ldm["model_ema.decay"] = at::empty({}, at::TensorOptions().device(at::kMeta));
  ldm["cond_stage_model.transformer.text_model.embeddings.position_ids"] =
      at::empty({1, 77}, at::TensorOptions().dtype(at::kLong).device(at::kMeta));

  StatusOr<SdWeights> weights = SdWeightsFromLdm(ldm);
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  EXPECT_EQ(weights->unet.size(), 686u);
  EXPECT_EQ(weights->vae.size(), 248u);
  EXPECT_EQ(weights->text_encoder.size(), 196u);
  std::vector<std::string> ignored = weights->ignored_keys;
  std::sort(ignored.begin(), ignored.end());
  EXPECT_EQ(ignored, (std::vector<std::string>{"alphas_cumprod", "cond_stage_model.transformer.text_model.embeddings.position_ids",
                                               "model_ema.decay"}));

  StatusOr<TensorMap> back = SdWeightsToLdm(*weights);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->size(), 1130u);
  for (const Json& entry : entries.items()) {
    const std::string& ldm_key = entry.Find("ldm")->text();
    const std::string& component = entry.Find("diffusers_component")->text();
    const std::string& name = entry.Find("diffusers")->text();
    const TensorMap& map = Component(*weights, component);
    auto it = map.find(name);
    ASSERT_NE(it, map.end()) << ldm_key << " should map to " << component << "/" << name;
    EXPECT_EQ(it->second.sizes().vec(), JsonShape(*entry.Find("diffusers_shape"))) << ldm_key;
    auto reverse = back->find(ldm_key);
    ASSERT_NE(reverse, back->end()) << component << "/" << name << " should map back to " << ldm_key;
    EXPECT_EQ(reverse->second.sizes().vec(), JsonShape(*entry.Find("shape"))) << ldm_key;
  }
}

TEST(CheckpointNamesTest, NameMapsAgreeWithTheTinyConfig) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  const Json config = ReadJson(dir + "/tiny_config.json");
  const Json* expected = config.Find("ldm_to_diffusers");
  ASSERT_NE(expected, nullptr);
  auto file = SafetensorsFile::Open(dir + "/tiny_ldm.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  std::vector<std::string> keys;
  for (const TensorInfo& info : (*file)->tensors()) keys.push_back(info.name);
  ASSERT_EQ(keys.size(), expected->members().size());

  StatusOr<LdmNameMap> names = MapLdmNames(keys);
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_TRUE(names->ignored.empty());
  std::map<SdComponent, std::vector<std::string>> diffusers_names;
  for (const std::string& key : keys) {
    const Json* want = expected->Find(key);
    ASSERT_NE(want, nullptr) << key;
    auto it = names->mapped.find(key);
    ASSERT_NE(it, names->mapped.end()) << key;
    EXPECT_EQ(std::string(SdComponentName(it->second.component)) + "/" + it->second.name, want->text()) << key;
    diffusers_names[it->second.component].push_back(it->second.name);
  }
  for (const auto& [component, list] : diffusers_names) {
    auto reverse = MapDiffusersNamesToLdm(component, list);
    ASSERT_TRUE(reverse.ok()) << reverse.status().ToString();
    for (const auto& [diffusers, ldm] : *reverse) {
      EXPECT_EQ(std::string(SdComponentName(component)) + "/" + diffusers, expected->Find(ldm)->text()) << ldm;
    }
  }
}

TEST(CheckpointNamesTest, UnknownKeysUnderAModelPrefixAreErrors) {
  for (const std::string key : {"model.diffusion_model.input_blocks.1.0.bogus.weight",
                                "model.diffusion_model.output_blocks.0.3.weight", "first_stage_model.encoder.mid.attn_2.q.weight",
                                "cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc3.weight",
                                "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight"}) {
    StatusOr<LdmNameMap> names = MapLdmNames({"model.diffusion_model.input_blocks.0.0.weight", key});
    ASSERT_FALSE(names.ok()) << key;
    EXPECT_NE(names.status().message().find("key '" + key + "'"), std::string::npos) << names.status().message();
  }
  auto reverse = MapDiffusersNamesToLdm(SdComponent::kUnet, {"down_blocks.0.resnets.0.conv9.weight"});
  ASSERT_FALSE(reverse.ok());
  EXPECT_NE(reverse.status().message().find("'down_blocks.0.resnets.0.conv9.weight'"), std::string::npos);
}

TEST(CheckpointTest, LoadsTheTinyLdmFile) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  const std::string path = dir + "/tiny_ldm.safetensors";
  StatusOr<SdWeights> weights = LoadCheckpoint(path);
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  EXPECT_FALSE(weights->unet.empty());
  EXPECT_FALSE(weights->vae.empty());
  EXPECT_FALSE(weights->text_encoder.empty());
  EXPECT_TRUE(weights->ignored_keys.empty());
  auto raw = ReadSafetensors(path);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(weights->unet.size() + weights->vae.size() + weights->text_encoder.size(), raw->size());
  EXPECT_TRUE(at::equal(weights->unet.at("down_blocks.0.attentions.0.proj_in.weight"),
                        raw->at("model.diffusion_model.input_blocks.1.1.proj_in.weight")));
  const at::Tensor& q = weights->vae.at("decoder.mid_block.attentions.0.to_q.weight");
  EXPECT_EQ(q.dim(), 2);
  EXPECT_TRUE(at::equal(q, raw->at("first_stage_model.decoder.mid.attn_1.q.weight").flatten(1)));
  for (const auto& [name, tensor] : weights->unet) EXPECT_EQ(tensor.scalar_type(), at::kFloat) << name;

  StatusOr<SdWeights> half = LoadCheckpoint(path, at::kHalf);
  ASSERT_TRUE(half.ok()) << half.status().ToString();
  for (const auto& [name, tensor] : half->text_encoder) EXPECT_EQ(tensor.scalar_type(), at::kHalf) << name;
  EXPECT_FALSE(LoadCheckpoint(path, at::kLong).ok());
}

TEST(CheckpointTest, Fp16FilesLoadAsFp32AndExtraKeysAreIgnored) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  auto raw = ReadSafetensors(dir + "/tiny_ldm.safetensors");
  ASSERT_TRUE(raw.ok());
  TensorMap half;
  for (const auto& [key, tensor] : *raw) half[key] = tensor.to(at::kHalf);
  half["alphas_cumprod"] = at::ones({1000}, at::kHalf);
  half["model_ema.num_updates"] = at::zeros({}, at::kLong);
  half["cond_stage_model.transformer.text_model.embeddings.position_ids"] = at::arange(77, at::kLong).unsqueeze(0);
  const std::string path = Scratch("tiny_fp16.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, half).ok());

  StatusOr<SdWeights> weights = LoadCheckpoint(path);
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  EXPECT_EQ(weights->ignored_keys.size(), 3u);
  const at::Tensor& w = weights->unet.at("conv_in.weight");
  EXPECT_EQ(w.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(w, raw->at("model.diffusion_model.input_blocks.0.0.weight").to(at::kHalf).to(at::kFloat)));

  half["model.diffusion_model.input_blocks.1.0.bogus.weight"] = at::ones({1}, at::kHalf);
  const std::string bad = Scratch("tiny_bad_key.safetensors");
  ASSERT_TRUE(WriteSafetensors(bad, half).ok());
  StatusOr<SdWeights> refused = LoadCheckpoint(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().rfind(bad + ": key 'model.diffusion_model.input_blocks.1.0.bogus.weight'", 0), 0u)
      << refused.status().message();
}

TEST(CheckpointTest, DiffusersFolderRoundTrip) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  StatusOr<SdWeights> tiny = LoadCheckpoint(dir + "/tiny_ldm.safetensors");
  ASSERT_TRUE(tiny.ok()) << tiny.status().ToString();
  const fs::path folder = Scratch("tiny_diffusers");
  for (const char* sub : {"unet", "vae", "text_encoder"}) fs::create_directories(folder / sub);
  ASSERT_TRUE(WriteSafetensors((folder / "unet/diffusion_pytorch_model.safetensors").string(), tiny->unet).ok());
  ASSERT_TRUE(WriteSafetensors((folder / "vae/diffusion_pytorch_model.safetensors").string(), tiny->vae).ok());
  TensorMap text = tiny->text_encoder;
  text["text_model.embeddings.position_ids"] = at::arange(77, at::kLong).unsqueeze(0);
  ASSERT_TRUE(WriteSafetensors((folder / "text_encoder/model.safetensors").string(), text).ok());

  StatusOr<SdWeights> loaded = LoadCheckpoint(folder.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->ignored_keys, std::vector<std::string>{"text_encoder/text_model.embeddings.position_ids"});
  for (const std::string component : {"unet", "vae", "text_encoder"}) {
    const TensorMap& want = Component(*tiny, component);
    const TensorMap& got = Component(*loaded, component);
    ASSERT_EQ(got.size(), want.size()) << component;
    for (const auto& [name, tensor] : want) {
      ASSERT_EQ(got.count(name), 1u) << component << "/" << name;
      EXPECT_TRUE(at::equal(got.at(name), tensor)) << component << "/" << name;
    }
  }

  fs::remove(folder / "vae/diffusion_pytorch_model.safetensors");
  StatusOr<SdWeights> missing = LoadCheckpoint(folder.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            folder.string() + ": diffusers folder lacks vae/diffusion_pytorch_model.safetensors");

  ASSERT_TRUE(WriteSafetensors((folder / "vae/diffusion_pytorch_model.bin").string(), tiny->vae).ok());
  StatusOr<SdWeights> pickle = LoadCheckpoint(folder.string());
  ASSERT_FALSE(pickle.ok());
  EXPECT_NE(pickle.status().message().find("vae/diffusion_pytorch_model.bin: a pickle checkpoint"), std::string::npos)
      << pickle.status().message();
}

// The tiny checkpoint's VAE, perturbed so a swap is visible, as LDM keys (with prefix).
TensorMap PerturbedLdmVae(const TensorMap& checkpoint) {
  TensorMap out;
  for (const auto& [key, tensor] : checkpoint) {
    if (key.starts_with("first_stage_model.")) out[key] = tensor + 0.01;
  }
  return out;
}

void ExpectSameTensors(const TensorMap& got, const TensorMap& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, tensor] : want) {
    ASSERT_EQ(got.count(name), 1u) << name;
    EXPECT_TRUE(at::equal(got.at(name), tensor)) << name;
  }
}

TEST(VaeFileTest, LoadsLdmAndDiffusersLayouts) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  auto raw = ReadSafetensors(dir + "/tiny_ldm.safetensors");
  ASSERT_TRUE(raw.ok());
  const TensorMap ldm_vae = PerturbedLdmVae(*raw);
  StatusOr<SdWeights> want = SdWeightsFromLdm(ldm_vae);
  ASSERT_TRUE(want.ok()) << want.status().ToString();
  ASSERT_FALSE(want->vae.empty());

  // LDM keys with the first_stage_model. prefix, as cut out of a checkpoint.
  const std::string prefixed = Scratch("vae_prefixed.safetensors");
  ASSERT_TRUE(WriteSafetensors(prefixed, ldm_vae).ok());
  StatusOr<TensorMap> loaded = LoadVaeFile(prefixed);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ExpectSameTensors(*loaded, want->vae);

  // LDM keys without the prefix (how the ft-MSE VAE is published), with loss weights to skip.
  TensorMap bare;
  for (const auto& [key, tensor] : ldm_vae) bare[key.substr(std::string("first_stage_model.").size())] = tensor;
  bare["loss.logvar"] = at::zeros({}, at::kFloat);
  const std::string bare_path = Scratch("vae_bare.safetensors");
  ASSERT_TRUE(WriteSafetensors(bare_path, bare).ok());
  loaded = LoadVaeFile(bare_path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ExpectSameTensors(*loaded, want->vae);

  // The diffusers layout, with the older attention names and 1x1-conv shapes.
  TensorMap diffusers;
  for (const auto& [name, tensor] : want->vae) {
    std::string old_name = name;
    const size_t at = old_name.find("mid_block.attentions.0.to_q.");
    if (at != std::string::npos) old_name.replace(at, std::string("mid_block.attentions.0.to_q.").size(),
                                                  "mid_block.attentions.0.query.");
    diffusers[old_name] = tensor.dim() == 2 && name.find("mid_block.attentions.0.") != std::string::npos
                              ? tensor.reshape({tensor.size(0), tensor.size(1), 1, 1})
                              : tensor;
  }
  const std::string diffusers_path = Scratch("vae_diffusers.safetensors");
  ASSERT_TRUE(WriteSafetensors(diffusers_path, diffusers).ok());
  loaded = LoadVaeFile(diffusers_path, at::kHalf);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->size(), want->vae.size());
  for (const auto& [name, tensor] : want->vae) {
    ASSERT_EQ(loaded->count(name), 1u) << name;
    EXPECT_EQ(loaded->at(name).scalar_type(), at::kHalf) << name;
    EXPECT_TRUE(at::equal(loaded->at(name), tensor.to(at::kHalf))) << name;
  }
}

TEST(VaeFileTest, ReplacesTheCheckpointsVaeAndRefusesOtherFiles) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  const std::string checkpoint = dir + "/tiny_ldm.safetensors";
  auto raw = ReadSafetensors(checkpoint);
  ASSERT_TRUE(raw.ok());
  const std::string path = Scratch("vae_swap.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, PerturbedLdmVae(*raw)).ok());
  StatusOr<TensorMap> vae = LoadVaeFile(path);
  ASSERT_TRUE(vae.ok()) << vae.status().ToString();

  StatusOr<SdWeights> weights = LoadCheckpoint(checkpoint);
  ASSERT_TRUE(weights.ok());
  const TensorMap unet = weights->unet;
  ASSERT_TRUE(ReplaceVae(*weights, *vae).ok());
  ExpectSameTensors(weights->vae, *vae);
  ExpectSameTensors(weights->unet, unet);

  // A VAE of another shape, or missing a tensor, is refused by name.
  TensorMap wrong = *vae;
  wrong["decoder.conv_in.weight"] = at::zeros({1}, at::kFloat);
  Status shape = ReplaceVae(*weights, wrong);
  ASSERT_FALSE(shape.ok());
  EXPECT_NE(shape.message().find("'decoder.conv_in.weight'"), std::string::npos) << shape.ToString();
  wrong = *vae;
  wrong.erase("decoder.conv_in.weight");
  EXPECT_FALSE(ReplaceVae(*weights, wrong).ok());

  // A full checkpoint is not a VAE file; nor is a file without VAE keys.
  StatusOr<TensorMap> full = LoadVaeFile(checkpoint);
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.status().message().find("is not a VAE weight"), std::string::npos) << full.status().ToString();
  const std::string other = Scratch("vae_none.safetensors");
  ASSERT_TRUE(WriteSafetensors(other, TensorMap{{"loss.logvar", at::zeros({}, at::kFloat)}}).ok());
  StatusOr<TensorMap> none = LoadVaeFile(other);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no VAE weights"), std::string::npos) << none.status().ToString();
  EXPECT_EQ(LoadVaeFile(Scratch("absent.safetensors")).status().code(), StatusCode::kNotFound);
}

TEST(CheckpointTest, PickleCheckpointsAreRefused) {
  const std::string by_name = Scratch("v1-5-pruned.ckpt");
  ASSERT_TRUE(WriteSafetensors(by_name, {{"a", at::ones({1})}}).ok());
  const std::string by_magic = Scratch("renamed_pickle.safetensors");
  {
    std::ofstream out(by_magic, std::ios::binary);
    out << std::string("\x80\x02}q\x00(X\x05\x00\x00\x00state", 17) << std::string(64, 'x');
  }
  for (const std::string& path : {by_name, by_magic}) {
    StatusOr<SdWeights> weights = LoadCheckpoint(path);
    ASSERT_FALSE(weights.ok()) << path;
    const std::string& message = weights.status().message();
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    EXPECT_NE(message.find("unpickling can run arbitrary code"), std::string::npos) << message;
    EXPECT_NE(message.find("safe_serialization=True"), std::string::npos) << message;
  }
  StatusOr<SdWeights> missing = LoadCheckpoint(Scratch("nothing_here.safetensors"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace farm::sd
