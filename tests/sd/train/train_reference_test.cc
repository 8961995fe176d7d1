// The training step against the kohya/diffusers reference (shared/reference/train): every
// forward, loss, gradient, clip and AdamW result within the README's rules, and a
// deliberately wrong optimizer setting caught by the same check.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "farm/sd/train_reference.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {
namespace fs = std::filesystem;

std::string Report(const ReferenceCheckReport& report) {
  std::ostringstream out;
  for (const TensorComparison& row : report.rows) {
    if (!row.passed) out << row.name << ": worst " << row.max_rel << " max_abs " << row.max_abs << " " << row.shape_note << "\n";
  }
  return out.str();
}

TEST(TrainReferenceTest, EveryStepMatchesTheReference) {
  FARM_SD_REQUIRE_TRAIN_REFERENCE(dir);
  ASSERT_TRUE(IsTrainReference(dir));
  auto report = CheckTrainReference(dir);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->passed()) << Report(*report);
  // Every kind of row was produced: gradients and updates of each run, and the scalars.
  int grads = 0, updates = 0, losses = 0, clips = 0;
  for (const TensorComparison& row : report->rows) {
    grads += row.name.rfind("grad/", 0) == 0;
    updates += row.name.rfind("updated/", 0) == 0;
    losses += row.name.rfind("loss/", 0) == 0;
    clips += row.name.rfind("clip/", 0) == 0;
  }
  EXPECT_GE(grads, 2);
  EXPECT_GE(updates, 2);
  EXPECT_EQ(clips, 2 * losses);
  EXPECT_GE(losses, 2);
}

// The check must fail when the optimizer differs (no weight decay), as the README's
// sensitivity control says it does: a copy of the folder with weight_decay 0.
TEST(TrainReferenceTest, AWrongWeightDecayIsCaught) {
  FARM_SD_REQUIRE_TRAIN_REFERENCE(dir);
  const fs::path copy = testing::ScratchPath("train_ref_copy", "");
  for (const char* file : {"lora_init.safetensors", "train_io.safetensors"}) {
    fs::create_symlink(fs::path(dir) / file, copy / file);
  }
  std::ifstream in(fs::path(dir) / "train_config.json");
  std::stringstream text;
  text << in.rdbuf();
  std::string config = text.str();
  // The base checkpoint path is relative to the folder: make it absolute for the copy.
  std::smatch m;
  const std::regex checkpoint(R"re("checkpoint":\s*"([^"]+)")re");
  ASSERT_TRUE(std::regex_search(config, m, checkpoint));
  config.replace(m.position(1), m.length(1), (fs::path(dir) / m[1].str()).string());
  const std::regex decay(R"re("weight_decay":\s*[0-9.eE+-]+)re");
  ASSERT_TRUE(std::regex_search(config, decay));
  config = std::regex_replace(config, decay, "\"weight_decay\": 0.0");
  std::ofstream(copy / "train_config.json") << config;

  auto report = CheckTrainReference(copy.string());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->passed());
}

TEST(TrainReferenceTest, AFolderWithoutTheFilesIsAnErrorNotACrash) {
  const std::string empty = testing::ScratchPath("train_ref_empty", "");
  EXPECT_FALSE(IsTrainReference(empty));
  EXPECT_FALSE(CheckTrainReference(empty).ok());
}

}  // namespace
}  // namespace farm::sd
