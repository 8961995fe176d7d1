// A test suite for one face-api net (LandmarkNet, RecognitionNet): loads the net from the
// face models and its direct-test reference file once; tests skip when either is absent.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>

#include "faceid_paths.h"
#include "reference_json.h"

namespace farm::faceid::testing {

template <typename Net>
class NetSuite : public ::testing::Test {
 protected:
  // From SetUpTestSuite; `reference_file` is a file of the faceid reference folder.
  static void LoadNetAndReference(const std::string& reference_file) {
    auto models = FindFaceModelDir();
    auto reference = FindFaceidReferenceDir();
    if (!models || !reference) return;
    auto net = Net::Load(*models);
    ASSERT_TRUE(net.ok()) << net.status().ToString();
    net_ = new Net(std::move(net).value());
    json_ = new nlohmann::json(ReadJsonFile(*reference + "/" + reference_file));
  }
  static void TearDownTestSuite() {
    delete net_;
    delete json_;
    net_ = nullptr;
    json_ = nullptr;
  }
  void SetUp() override {
    if (!net_ || !json_) GTEST_SKIP() << "face-api models or faceid reference data not found";
  }

  static inline Net* net_ = nullptr;
  static inline nlohmann::json* json_ = nullptr;
};

}  // namespace farm::faceid::testing
