// Helpers shared by the LoRA tests: reference files, deep copies, and the merge rule
// recomputed in double precision independently of the library.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "farm/sd/checkpoint.h"
#include "farm/sd/json.h"
#include "farm/sd/lora.h"
#include "farm/sd/safetensors.h"

namespace farm::sd::testing {

inline Json ReadJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  auto json = Json::Parse(text.str());
  EXPECT_TRUE(json.ok()) << path << ": " << json.status().ToString();
  return json.ok() ? *json : Json();
}

inline std::vector<int64_t> JsonShape(const Json& array) {
  std::vector<int64_t> shape;
  for (const Json& item : array.items()) shape.push_back(*item.AsInt64());
  return shape;
}

inline TensorMap DeepCopy(const TensorMap& tensors) {
  TensorMap copy;
  for (const auto& [key, tensor] : tensors) copy.emplace(key, tensor.clone());
  return copy;
}

// Keys whose tensors differ (not bit-identical) between two maps with the same keys.
inline std::vector<std::string> ChangedKeys(const TensorMap& before, const TensorMap& after) {
  std::vector<std::string> changed;
  for (const auto& [key, tensor] : before) {
    auto it = after.find(key);
    if (it == after.end() || !at::equal(tensor, it->second)) changed.push_back(key);
  }
  return changed;
}

// multiplier * alpha/rank * up @ down in double, written as kohya's merge_to does:
// matmul for linear, squeezed matmul for 1x1 convs, a conv2d of the two for kxk convs.
inline at::Tensor ExpectedDeltaDouble(const at::Tensor& up_in, const at::Tensor& down_in,
                                      double alpha, double multiplier) {
  at::Tensor up = up_in.to(at::kDouble);
  at::Tensor down = down_in.to(at::kDouble);
  const double scale = alpha / static_cast<double>(down.size(0));
  at::Tensor product;
  if (down.dim() == 2) {
    product = at::matmul(up, down);
  } else if (down.size(2) == 1 && down.size(3) == 1) {
    product = at::matmul(up.squeeze(3).squeeze(2), down.squeeze(3).squeeze(2)).unsqueeze(2).unsqueeze(3);
  } else {
    product = at::conv2d(down.permute({1, 0, 2, 3}), up).permute({1, 0, 2, 3});
  }
  return product * multiplier * scale;
}

inline double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

inline float ScalarFromFile(const std::string& path, const std::string& name) {
  auto file = SafetensorsFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  if (!file.ok()) return 0;
  auto tensor = (*file)->Load(name);
  EXPECT_TRUE(tensor.ok()) << tensor.status().ToString();
  return tensor.ok() ? tensor->to(at::kFloat).item<float>() : 0;
}

// The reference set's tiny checkpoint and kohya LoRA from `dir` (a failed load is a fatal
// test failure: callers check HasFatalFailure()).
inline void LoadTinyModelAndLora(const std::string& dir, SdWeights* weights, LoraFile* lora) {
  auto loaded_weights = LoadCheckpoint(dir + "/tiny_ldm.safetensors");
  ASSERT_TRUE(loaded_weights.ok()) << loaded_weights.status().ToString();
  *weights = std::move(loaded_weights).value();
  auto loaded_lora = ReadLoraFile(dir + "/tiny_lora.safetensors");
  ASSERT_TRUE(loaded_lora.ok()) << loaded_lora.status().ToString();
  *lora = std::move(loaded_lora).value();
}

}  // namespace farm::sd::testing
