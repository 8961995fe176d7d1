// Shared by the model parity tests: the tiny reference set (weights, inputs/outputs,
// configuration) and an all-close check that reports the measured errors.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "farm/sd/checkpoint.h"
#include "farm/sd/json.h"
#include "farm/sd/safetensors.h"
#include "reference_paths.h"

namespace farm::sd::testing {

struct TinyReference {
  SdWeights weights;
  TensorMap io;
  Json config;
};

inline TinyReference LoadTinyReference(const std::string& dir) {
  TinyReference ref;
  auto weights = LoadCheckpoint(dir + "/tiny_ldm.safetensors");
  EXPECT_TRUE(weights.ok()) << weights.status().ToString();
  if (weights.ok()) ref.weights = std::move(*weights);
  auto io = ReadSafetensors(dir + "/tiny_io.safetensors");
  EXPECT_TRUE(io.ok()) << io.status().ToString();
  if (io.ok()) ref.io = std::move(*io);
  std::ifstream in(dir + "/tiny_config.json");
  std::stringstream text;
  text << in.rdbuf();
  auto config = Json::Parse(text.str());
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  if (config.ok()) ref.config = std::move(*config);
  return ref;
}

// config[section][key] as a number (0 when absent, which fails the test).
inline double ConfigNumber(const Json& config, const char* section, const char* key) {
  const Json* part = config.Find(section);
  const Json* value = part ? part->Find(key) : nullptr;
  EXPECT_TRUE(value && value->is_number()) << section << "." << key << " missing from tiny_config.json";
  return value && value->is_number() ? value->number() : 0;
}

inline at::Tensor IoTensor(const TinyReference& ref, const std::string& name) {
  auto it = ref.io.find(name);
  EXPECT_NE(it, ref.io.end()) << name << " missing from tiny_io.safetensors";
  return it == ref.io.end() ? at::Tensor() : it->second;
}

// |actual - expected| <= atol + rtol * |expected| everywhere; prints the max abs and max
// relative error either way so the measured parity is visible in the test log.
inline ::testing::AssertionResult AllClose(const std::string& what, const at::Tensor& actual,
                                           const at::Tensor& expected, double atol = 1e-4,
                                           double rtol = 1e-4) {
  if (!actual.defined() || !expected.defined()) {
    return ::testing::AssertionFailure() << what << ": tensor missing";
  }
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure() << what << ": shape " << actual.sizes() << " vs expected "
                                         << expected.sizes();
  }
  const at::Tensor a = actual.to(at::kDouble), e = expected.to(at::kDouble);
  const at::Tensor diff = (a - e).abs();
  const double max_abs = diff.max().item<double>();
  const double max_rel = (diff / e.abs().clamp_min(1e-12)).max().item<double>();
  const bool ok = (diff <= atol + rtol * e.abs()).all().item<bool>();
  std::ostringstream report;
  report << what << ": max_abs=" << max_abs << " max_rel=" << max_rel
         << " (max |ref|=" << e.abs().max().item<double>() << ")";
  std::cout << "[parity] " << report.str() << "\n";
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << report.str() << " exceeds atol=" << atol << " rtol=" << rtol;
}

}  // namespace farm::sd::testing
