#include "farm/sd/lora_file.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>

#include "farm/sd/safetensors.h"
#include "lora_test_util.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

bool HasProblem(const LoraFile& file, const std::string& name, const std::string& text) {
  return std::any_of(file.problems.begin(), file.problems.end(), [&](const LoraIssue& issue) {
    return issue.name == name && issue.message.find(text) != std::string::npos;
  });
}

TEST(LoraFileTest, ReadsTheTinyKohyaLora) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  Json config = testing::ReadJsonFile(dir + "/tiny_config.json");
  const Json& lora_config = *config.Find("lora");
  const int64_t rank = *lora_config.Find("rank")->AsInt64();
  const double alpha = lora_config.Find("alpha")->number();

  auto lora = ReadLoraFile(dir + "/tiny_lora.safetensors");
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  EXPECT_TRUE(lora->problems.empty()) << FormatLoraIssue(lora->problems.front());
  EXPECT_EQ(lora->modules.size(), lora_config.Find("modules")->items().size());
  EXPECT_EQ(lora->metadata.at("ss_network_dim"), std::to_string(rank));
  for (const LoraModule& module : lora->modules) {
    EXPECT_EQ(module.rank, rank) << module.name;
    EXPECT_TRUE(module.alpha_stored) << module.name;
    EXPECT_DOUBLE_EQ(module.alpha, alpha) << module.name;
    EXPECT_EQ(module.down.scalar_type(), at::kFloat);
  }
  EXPECT_TRUE(std::is_sorted(lora->modules.begin(), lora->modules.end(),
                             [](const LoraModule& a, const LoraModule& b) { return a.name < b.name; }));
}

TEST(LoraFileTest, NamesEveryUnusablePart) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  TensorMap tensors = {
      {"good.lora_down.weight", at::ones({2, 3})},
      {"good.lora_up.weight", at::ones({5, 2})},
      {"good.alpha", at::scalar_tensor(1.0)},
      {"no_up.lora_down.weight", at::ones({2, 3})},
      {"no_down.lora_up.weight", at::ones({5, 2})},
      {"no_down.alpha", at::scalar_tensor(1.0)},
      {"rank_mismatch.lora_down.weight", at::ones({2, 3})},
      {"rank_mismatch.lora_up.weight", at::ones({5, 4})},
      {"lycoris.hada_w1_a", at::ones({2, 3})},
      {"vector_alpha.lora_down.weight", at::ones({2, 3})},
      {"vector_alpha.lora_up.weight", at::ones({5, 2})},
      {"vector_alpha.alpha", at::ones({2})},
      {"not_finite.lora_down.weight", at::full({2, 3}, nan)},
      {"not_finite.lora_up.weight", at::ones({5, 2})},
      {"integer.lora_down.weight", at::ones({2, 3}, at::kLong)},
      {"integer.lora_up.weight", at::ones({5, 2}, at::kLong)},
      {"bad_conv_up.lora_down.weight", at::ones({2, 3, 3, 3})},
      {"bad_conv_up.lora_up.weight", at::ones({5, 2, 3, 3})},
  };
  auto lora = LoraFromTensors(tensors, "synthetic");
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  ASSERT_EQ(lora->modules.size(), 1u);
  EXPECT_EQ(lora->modules[0].name, "good");
  EXPECT_TRUE(HasProblem(*lora, "no_up", "no lora_up.weight"));
  EXPECT_TRUE(HasProblem(*lora, "no_down", "no lora_down.weight"));
  EXPECT_TRUE(HasProblem(*lora, "rank_mismatch", "[5, 4]"));
  EXPECT_TRUE(HasProblem(*lora, "lycoris", "LoHa module without hada_w1_b"));
  EXPECT_TRUE(HasProblem(*lora, "vector_alpha", "alpha must be a scalar"));
  EXPECT_TRUE(HasProblem(*lora, "not_finite", "NaN"));
  EXPECT_TRUE(HasProblem(*lora, "integer", "must be f16, bf16, f32 or f64"));
  EXPECT_TRUE(HasProblem(*lora, "bad_conv_up", "[out, r, 1, 1]"));
  EXPECT_EQ(lora->problems.size(), 8u);
  for (const LoraIssue& issue : lora->problems) EXPECT_EQ(issue.source, "synthetic");
  EXPECT_EQ(FormatLoraIssue({"f.safetensors", "m", "what"}), "f.safetensors: m: what");
}

TEST(LoraFileTest, MissingAlphaMeansRankAndHalfPrecisionIsKept) {
  const std::string path = testing::ScratchDir() + "/bf16_lora.safetensors";
  TensorMap tensors = {
      {"m.lora_down.weight", at::randn({3, 6}).to(at::kBFloat16)},
      {"m.lora_up.weight", at::randn({4, 3}).to(at::kBFloat16)},
      {"h.lora_down.weight", at::randn({2, 6, 1, 1}).to(at::kHalf)},
      {"h.lora_up.weight", at::randn({4, 2, 1, 1}).to(at::kHalf)},
      {"h.alpha", at::scalar_tensor(1.5, at::kHalf)},
  };
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"ss_network_module", "networks.lora"}}).ok());
  auto lora = ReadLoraFile(path);
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  ASSERT_EQ(lora->modules.size(), 2u);
  const LoraModule& h = lora->modules[0];
  const LoraModule& m = lora->modules[1];
  EXPECT_EQ(h.name, "h");
  EXPECT_TRUE(h.alpha_stored);
  EXPECT_DOUBLE_EQ(h.alpha, 1.5);
  EXPECT_EQ(h.rank, 2);
  EXPECT_EQ(h.up.scalar_type(), at::kHalf);
  EXPECT_EQ(m.name, "m");
  EXPECT_FALSE(m.alpha_stored);
  EXPECT_DOUBLE_EQ(m.alpha, 3.0);
  EXPECT_EQ(m.down.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(m.down, tensors.at("m.lora_down.weight")));
  EXPECT_EQ(lora->metadata.at("ss_network_module"), "networks.lora");
}

TEST(LoraFileTest, UnreadableFileIsAnError) {
  auto lora = ReadLoraFile(testing::ScratchDir() + "/missing.safetensors");
  ASSERT_FALSE(lora.ok());
  EXPECT_NE(lora.status().message().find("missing.safetensors"), std::string::npos)
      << lora.status().ToString();
}

}  // namespace
}  // namespace farm::sd
