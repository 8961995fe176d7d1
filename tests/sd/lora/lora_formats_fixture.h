// The LoRA-format tests' fixture: the reference set's tiny model and kohya LoRA, what each
// of its modules is called in diffusers terms, and merging a file with a check that
// unmerging restores every weight bit for bit. Files are made by the tests from the tiny
// model's own weights.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "farm/sd/checkpoint.h"
#include "farm/sd/lora.h"
#include "farm/sd/lora_naming.h"
#include "farm/sd/safetensors.h"
#include "lora_test_util.h"
#include "reference_paths.h"

namespace farm::sd {

// The tiny model, its kohya LoRA, and what each of its modules is in diffusers terms.
class LoraFormatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::FindSd15ReferenceDir();
    if (!dir) GTEST_SKIP() << "sd15 reference data not found (set FARM_SD_REFERENCE)";
    dir_ = *dir;
    testing::LoadTinyModelAndLora(dir_, &weights_, &lora_);
    if (HasFatalFailure()) return;
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
    const SdWeights before{testing::DeepCopy(weights_.unet), testing::DeepCopy(weights_.vae),
                           testing::DeepCopy(weights_.text_encoder), {}};
    auto merged = MergeLoras(weights_, {{&lora, multiplier}});
    EXPECT_TRUE(merged.ok()) << merged.status().ToString();
    if (!merged.ok()) return {};
    EXPECT_EQ(merged->report().applied.size(), lora.modules.size());
    SdWeights result{testing::DeepCopy(weights_.unet), {}, testing::DeepCopy(weights_.text_encoder), {}};
    EXPECT_TRUE(merged->Unmerge().ok());
    EXPECT_TRUE(testing::ChangedKeys(before.unet, weights_.unet).empty()) << lora.source;
    EXPECT_TRUE(testing::ChangedKeys(before.text_encoder, weights_.text_encoder).empty()) << lora.source;
    EXPECT_TRUE(testing::ChangedKeys(before.vae, weights_.vae).empty()) << lora.source;
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

}  // namespace farm::sd
