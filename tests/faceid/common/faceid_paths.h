// Where the face-ID tests find their data: the reference JSON produced with face-api.js
// (../shared/reference/faceid next to the repository) and the face-api model files.
#pragma once

#include <optional>
#include <string>

namespace farm::faceid::testing {

// $FARM_FACEID_REFERENCE, else ../shared/reference/faceid or shared/reference/faceid
// relative to the repository root ($FARM_SOURCE_DIR, else the working directory).
std::optional<std::string> FindFaceidReferenceDir();

// The folder holding the face-api weights manifests:
// $STUDIOFARM_MODELS/face-api/model (default ~/.cache/studiofarm/models/face-api/model).
std::optional<std::string> FindFaceModelDir();

// The face-api demo photos (sample1.jpg ...): .../face-api/demo next to the models.
std::optional<std::string> FindFaceDemoDir();

}  // namespace farm::faceid::testing

// Skip the current test (with the reason) when the data is absent.
#define FARM_FACEID_REQUIRE_REFERENCE(var)                                                   \
  auto var##_opt = ::farm::faceid::testing::FindFaceidReferenceDir();                       \
  if (!var##_opt) GTEST_SKIP() << "faceid reference data not found (set FARM_FACEID_REFERENCE)"; \
  const std::string var = *var##_opt

#define FARM_FACEID_REQUIRE_MODELS(var)                                                       \
  auto var##_opt = ::farm::faceid::testing::FindFaceModelDir();                              \
  if (!var##_opt) GTEST_SKIP() << "face-api models not found (set STUDIOFARM_MODELS)";        \
  const std::string var = *var##_opt

#define FARM_FACEID_REQUIRE_DEMO(var)                                                         \
  auto var##_opt = ::farm::faceid::testing::FindFaceDemoDir();                               \
  if (!var##_opt) GTEST_SKIP() << "face-api demo photos not found (set STUDIOFARM_MODELS)";   \
  const std::string var = *var##_opt
