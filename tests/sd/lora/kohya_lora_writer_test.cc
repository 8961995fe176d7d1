// WriteKohyaLora and kohya's hashes. Every hash is recomputed here from file bytes with
// the farm's other SHA-256 (libsodium, farm_schemas), not the one the library uses.
#include "farm/sd/kohya_lora_writer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "farm/schemas/sha256.h"
#include "farm/sd/kohya_hashes.h"
#include "farm/sd/lora_file.h"
#include "farm/sd/safetensors.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

constexpr size_t kLegacyOffset = 0x100000;
constexpr size_t kLegacyLength = 0x10000;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

uint64_t HeaderLength(const std::string& bytes) {
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  return n;
}

std::string DataSection(const std::string& bytes) { return bytes.substr(8 + HeaderLength(bytes)); }

std::string LegacyOf(const std::string& bytes) {
  const std::string window = bytes.size() > kLegacyOffset ? bytes.substr(kLegacyOffset, kLegacyLength) : "";
  return Sha256Hex(window).substr(0, 8);
}

// Two kohya modules, one F32 and one F16 (so the dtype order matters), 1.35 MB of data:
// past the legacy window at 1 MiB + 64 KiB.
TensorMap LargeLora() {
  at::manual_seed(13);
  return {
      {"lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", at::randn({64, 768})},
      {"lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", at::randn({3072, 64})},
      {"lora_te_text_model_encoder_layers_0_mlp_fc1.alpha", at::scalar_tensor(32.0, at::kFloat)},
      {"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_0_proj.lora_down.weight",
       at::randn({64, 320}).to(at::kHalf)},
      {"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_0_proj.lora_up.weight",
       at::randn({2560, 64}).to(at::kHalf)},
      {"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_0_proj.alpha",
       at::scalar_tensor(32.0, at::kHalf)},
  };
}

std::map<std::string, std::string> TrainingMetadata() {
  return {{"ss_network_module", "networks.lora"}, {"ss_network_dim", "64"}, {"ss_network_alpha", "32.0"},
          {"ss_output_name", "alice"}, {"ss_steps", "100"}};
}

std::map<std::string, std::string> OnlyTraining(const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : metadata) {
    if (key.rfind("ss_", 0) == 0) out.emplace(key, value);
  }
  return out;
}

TEST(KohyaLoraWriterTest, HashesMatchKohyasRecipeOnTheFileBytes) {
  const TensorMap tensors = LargeLora();
  std::map<std::string, std::string> metadata = TrainingMetadata();
  metadata["modelspec.title"] = "alice";  // not ss_*: written, not hashed
  metadata["sshs_model_hash"] = "stale";  // replaced
  const std::string path = testing::ScratchPath("kohya_writer", "large.safetensors");
  auto hashes = WriteKohyaLora(path, tensors, metadata);
  ASSERT_TRUE(hashes.ok()) << hashes.status().ToString();

  const std::string file = ReadFile(path);
  ASSERT_GT(file.size(), kLegacyOffset + kLegacyLength);
  // sshs_model_hash: everything after the header, which the extra metadata does not touch.
  EXPECT_EQ(hashes->model_hash, Sha256Hex(DataSection(file)));
  // sshs_legacy_hash: the window of the file written with the ss_* metadata alone.
  const std::map<std::string, std::string> training = OnlyTraining(metadata);
  auto hashed_bytes = SerializeSafetensorsAsPython(tensors, &training);
  ASSERT_TRUE(hashed_bytes.ok()) << hashed_bytes.status().ToString();
  EXPECT_EQ(DataSection(*hashed_bytes), DataSection(file));
  EXPECT_EQ(hashes->legacy_hash, LegacyOf(*hashed_bytes));
  EXPECT_EQ(hashes->legacy_hash.size(), 8u);
  // The windows of the written file and of the hashed bytes differ (their headers do), so
  // the check above is not satisfied by hashing the written file.
  EXPECT_NE(LegacyOf(file), LegacyOf(*hashed_bytes));

  // The file carries the hashes, the ss_* and the other metadata.
  auto read = SafetensorsFile::Open(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  const auto& stored = (*read)->metadata();
  EXPECT_EQ(stored.at("sshs_model_hash"), hashes->model_hash);
  EXPECT_EQ(stored.at("sshs_legacy_hash"), hashes->legacy_hash);
  EXPECT_EQ(stored.at("modelspec.title"), "alice");
  EXPECT_EQ(stored.at("ss_network_dim"), "64");
  // Python layout: the F32 tensors first, then the F16 ones, by name within each.
  std::vector<std::string> order;
  for (const TensorInfo& info : (*read)->tensors()) order.push_back(info.name);
  EXPECT_EQ(order[0], "lora_te_text_model_encoder_layers_0_mlp_fc1.alpha");
  EXPECT_EQ(order[3], "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_0_proj.alpha");

  // The same hashes from the library's own reading of bytes.
  KohyaLoraHashes from_bytes = AddnetHashes(*hashed_bytes);
  EXPECT_EQ(from_bytes.model_hash, hashes->model_hash);
  EXPECT_EQ(from_bytes.legacy_hash, hashes->legacy_hash);
}

TEST(KohyaLoraWriterTest, OnlyTrainingMetadataMovesTheHashes) {
  const TensorMap tensors = LargeLora();
  std::map<std::string, std::string> metadata = TrainingMetadata();
  auto base = PrecalculateSafetensorsHashes(tensors, metadata);
  ASSERT_TRUE(base.ok()) << base.status().ToString();

  std::map<std::string, std::string> user = metadata;
  user["ssmd_display_name"] = "Alice, studio portraits";
  user["modelspec.description"] = std::string(5000, 'x');
  auto with_user = PrecalculateSafetensorsHashes(tensors, user);
  ASSERT_TRUE(with_user.ok());
  EXPECT_EQ(with_user->model_hash, base->model_hash);
  EXPECT_EQ(with_user->legacy_hash, base->legacy_hash);

  // A longer ss_* value shifts the data by 8 bytes: the legacy window sees other bytes,
  // while the data section, and so sshs_model_hash, stays the same.
  std::map<std::string, std::string> longer = metadata;
  longer["ss_output_name"] = "alice12345678";
  auto shifted = PrecalculateSafetensorsHashes(tensors, longer);
  ASSERT_TRUE(shifted.ok());
  EXPECT_EQ(shifted->model_hash, base->model_hash);
  EXPECT_NE(shifted->legacy_hash, base->legacy_hash);

  // Other tensor values: another model hash.
  TensorMap changed = tensors;
  changed["lora_te_text_model_encoder_layers_0_mlp_fc1.alpha"] = at::scalar_tensor(16.0, at::kFloat);
  auto other = PrecalculateSafetensorsHashes(changed, metadata);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->model_hash, base->model_hash);
}

TEST(KohyaLoraWriterTest, RoundTripsThroughTheLoraReader) {
  const TensorMap tensors = LargeLora();
  const std::string path = testing::ScratchPath("kohya_writer", "round_trip.safetensors");
  ASSERT_TRUE(WriteKohyaLora(path, tensors, TrainingMetadata()).ok());
  auto lora = ReadLoraFile(path);
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  EXPECT_TRUE(lora->problems.empty()) << FormatLoraIssue(lora->problems.front());
  ASSERT_EQ(lora->modules.size(), 2u);
  for (const LoraModule& module : lora->modules) {
    EXPECT_TRUE(at::equal(module.down, tensors.at(module.name + ".lora_down.weight"))) << module.name;
    EXPECT_TRUE(at::equal(module.up, tensors.at(module.name + ".lora_up.weight"))) << module.name;
    EXPECT_TRUE(module.alpha_stored);
    EXPECT_DOUBLE_EQ(module.alpha, 32.0);
    EXPECT_EQ(module.rank, 64);
  }
  EXPECT_EQ(lora->metadata.at("ss_network_module"), "networks.lora");
  EXPECT_EQ(lora->metadata.count("sshs_model_hash"), 1u);
}

TEST(KohyaLoraWriterTest, RefusesWhatWouldNotLoad) {
  const std::string dir = testing::ScratchPath("kohya_refuse", "x");
  const std::string path = std::filesystem::path(dir).parent_path() / "broken.safetensors";
  TensorMap tensors = {{"lora_unet_x.lora_down.weight", at::ones({2, 3})}};
  auto written = WriteKohyaLora(path, tensors, TrainingMetadata());
  ASSERT_FALSE(written.ok());
  EXPECT_NE(written.status().message().find("lora_unet_x"), std::string::npos) << written.status().message();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(WriteKohyaLora(path, {}, TrainingMetadata()).ok());
}

TEST(KohyaHashesTest, ShortInputsHashAsPythonDoes) {
  const std::string empty_legacy = Sha256Hex("").substr(0, 8);
  ASSERT_EQ(empty_legacy, "e3b0c442");
  // Under 1 MiB: the legacy window is empty.
  const TensorMap small = {{"a.lora_down.weight", at::ones({1, 2})}, {"a.lora_up.weight", at::ones({2, 1})}};
  auto small_hashes = PrecalculateSafetensorsHashes(small, {});
  ASSERT_TRUE(small_hashes.ok());
  EXPECT_EQ(small_hashes->legacy_hash, empty_legacy);
  const std::map<std::string, std::string> none;
  auto bytes = SerializeSafetensorsAsPython(small, &none);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(small_hashes->model_hash, Sha256Hex(DataSection(*bytes)));
  // Fewer than 8 bytes, or a header length past the end: no data bytes.
  EXPECT_EQ(AddnetHashes("abc").model_hash, Sha256Hex(""));
  EXPECT_EQ(AddnetHashes(std::string("\xff\x00\x00\x00\x00\x00\x00\x00xyz", 11)).model_hash, Sha256Hex(""));
  EXPECT_EQ(AddnetHashes(std::string("\x01\x00\x00\x00\x00\x00\x00\x00xyz", 11)).model_hash, Sha256Hex("yz"));
}

TEST(KohyaHashesTest, WebuiCheckpointHashes) {
  std::string content(kLegacyOffset + kLegacyLength + 12345, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>((i * 2654435761u) >> 13);
  const std::string path = testing::ScratchPath("webui_hashes", "model.safetensors");
  std::ofstream(path, std::ios::binary) << content;

  auto hashes = WebuiModelHashesOfFile(path);
  ASSERT_TRUE(hashes.ok()) << hashes.status().ToString();
  EXPECT_EQ(hashes->sha256, Sha256Hex(content));
  EXPECT_EQ(hashes->short_hash, hashes->sha256.substr(0, 10));
  EXPECT_EQ(hashes->legacy_hash, LegacyOf(content));
  auto legacy = WebuiLegacyModelHash(path);
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(*legacy, hashes->legacy_hash);

  const std::string small_path = testing::ScratchPath("webui_hashes", "small.safetensors");
  std::ofstream(small_path, std::ios::binary) << "tiny";
  auto small = WebuiModelHashesOfFile(small_path);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->legacy_hash, "e3b0c442");
  EXPECT_EQ(small->sha256, Sha256Hex("tiny"));

  auto missing = WebuiModelHashesOfFile(path + ".missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(WebuiLegacyModelHash(path + ".missing").ok());
}

}  // namespace
}  // namespace farm::sd
