// A test suite that makes a tiny random model once and keeps one engine loaded for all
// its tests (engine_test, controlnet_render_test).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "farm/sd/engine.h"
#include "farm/sd/tiny_model.h"

namespace farm::sd::testing {

class TinyEngineSuite : public ::testing::Test {
 protected:
  // From SetUpTestSuite: writes the tiny model under the scratch folder `name`, loads it
  // with one thread. Fails the suite on error.
  static void LoadTinyEngine(const std::string& name, uint64_t seed);
  static void TearDownTestSuite();

  static TinyModelFiles* files_;
  static Engine* engine_;
};

// The bytes of a file ("" when it cannot be read).
std::string FileBytes(const std::string& path);

}  // namespace farm::sd::testing
