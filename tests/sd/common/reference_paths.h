// Where the engine's tests find the reference data produced by the public reference
// implementations (../shared/reference/sd15 next to the repository).
#pragma once

#include <optional>
#include <string>

namespace farm::sd::testing {

// The sd15 reference folder: $FARM_SD_REFERENCE, else ../shared/reference/sd15 or
// shared/reference/sd15 relative to the repository root ($FARM_SOURCE_DIR). Empty when
// none exists.
std::optional<std::string> FindSd15ReferenceDir();

// The LoRA training-step reference folder: $FARM_TRAIN_REFERENCE, else
// shared/reference/train found as above. Empty when none exists.
std::optional<std::string> FindTrainReferenceDir();

// The CLIP tokenizer reference folder: $FARM_CLIP_REFERENCE, else shared/reference/clip
// found as above. Empty when none exists.
std::optional<std::string> FindClipReferenceDir();

// A scratch directory unique to this test process, removed at exit.
std::string ScratchDir();

// ScratchDir()/folder/name, with the folder created.
std::string ScratchPath(const std::string& folder, const std::string& name);

}  // namespace farm::sd::testing

#define FARM_SD_REQUIRE_TRAIN_REFERENCE(var)                                              \
  auto var##_opt = ::farm::sd::testing::FindTrainReferenceDir();                           \
  if (!var##_opt) GTEST_SKIP() << "train reference data not found (set FARM_TRAIN_REFERENCE)"; \
  const std::string var = *var##_opt

// Skips the current test (with the reason printed) when the reference data is absent.
#define FARM_SD_REQUIRE_REFERENCE(var)                                                  \
  auto var##_opt = ::farm::sd::testing::FindSd15ReferenceDir();                        \
  if (!var##_opt) GTEST_SKIP() << "sd15 reference data not found (set FARM_SD_REFERENCE)"; \
  const std::string var = *var##_opt
