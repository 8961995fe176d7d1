// The acceptance test of the engine: every case of the shared reference set passes.
#include "farm/sd/check_reference.h"

#include <gtest/gtest.h>

#include <iostream>

#include "reference_paths.h"

namespace farm::sd {
namespace {

TEST(CheckReferenceTest, SharedReferenceSetPasses) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  StatusOr<ReferenceCheckReport> report = CheckReference(dir);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  for (const TensorComparison& row : report->rows) {
    EXPECT_TRUE(row.passed) << row.name << ": max_abs " << row.max_abs << ", max_rel " << row.max_rel
                            << " (limit " << row.limit << " " << row.tolerance << ") " << row.shape_note;
  }
  EXPECT_TRUE(report->passed());

  // Every kind of case ran: a silently skipped group would pass vacuously.
  auto ran = [&](const std::string& name) {
    for (const TensorComparison& row : report->rows) {
      if (row.name == name) return true;
    }
    return false;
  };
  for (const char* name : {"clip_last_hidden_state", "clip_penultimate_ln", "unet_eps", "unet_eps_float_t",
                           "vae_encode_mean", "vae_decode_output", "vae_decode_uint8", "euler_final_latent",
                           "euler_a_final_latent", "dpmpp_2m_karras_final_latent", "euler_final_image",
                           "lora_unet_eps", "lora_clip_penultimate_ln", "lora_unmerged_unet_eps",
                           "controlnet_down_res_0", "controlnet_mid_res", "controlnet_unet_eps"}) {
    EXPECT_TRUE(ran(name)) << name << " was not compared";
  }
}

TEST(CheckReferenceTest, ControlNetCaseComparesEveryResidual) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  StatusOr<ReferenceCheckReport> report = CheckReference(dir);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  int residuals = 0;
  for (const TensorComparison& row : report->rows) {
    if (row.name.rfind("controlnet_", 0) != 0) continue;
    residuals += row.name.rfind("controlnet_down_res_", 0) == 0;
    std::cout << "[parity] " << row.name << ": max_abs=" << row.max_abs << " max_rel=" << row.max_rel << "\n";
    EXPECT_TRUE(row.passed) << row.name;
  }
  // conv_in + layers_per_block per level + a downsampler on all but the last level.
  EXPECT_GE(residuals, 12);
  for (const std::string& skipped : report->skipped) {
    EXPECT_EQ(skipped.find("controlnet"), std::string::npos) << skipped;
  }
}

TEST(CheckReferenceTest, TighterToleranceThanTheErrorFails) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  ReferenceCheckOptions strict;
  strict.tolerance = 1e-12;
  StatusOr<ReferenceCheckReport> report = CheckReference(dir, strict);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->passed());
}

TEST(CheckReferenceTest, MissingFolderIsAnError) {
  StatusOr<ReferenceCheckReport> report = CheckReference("/nonexistent/reference");
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("tiny_config.json"), std::string::npos);
}

}  // namespace
}  // namespace farm::sd
