// What the human_* pose tests read: the reference folder (../shared/reference/pose, made
// with @vladmandic/human 3.3.6), its sampleN.json / sampleN.safetensors pairs, and the
// face-api demo photos those were computed from. Header-only so each test stays one file.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "farm/sd/sha256.h"

namespace farm::pose::testing {
namespace fs = std::filesystem;

// $FARM_POSE_REFERENCE, else ../shared/reference/pose or shared/reference/pose from the
// repository root ($FARM_SOURCE_DIR, else the working directory).
inline std::optional<std::string> FindPoseReferenceDir() {
  std::error_code ec;
  if (const char* dir = std::getenv("FARM_POSE_REFERENCE"); dir && *dir) {
    if (fs::is_directory(dir, ec)) return std::string(dir);
    return std::nullopt;
  }
  const char* root = std::getenv("FARM_SOURCE_DIR");
  const fs::path base = root && *root ? fs::path(root) : fs::current_path();
  for (const fs::path& candidate : {base / ".." / "shared" / "reference" / "pose",
                                    base / "shared" / "reference" / "pose"}) {
    if (fs::is_directory(candidate, ec)) return fs::weakly_canonical(candidate, ec).string();
  }
  return std::nullopt;
}

// $STUDIOFARM_MODELS (default ~/.cache/studiofarm/models)/face-api/demo.
inline std::optional<std::string> FindDemoPhotoDir() {
  fs::path root;
  if (const char* dir = std::getenv("STUDIOFARM_MODELS"); dir && *dir) {
    root = dir;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    root = fs::path(home) / ".cache" / "studiofarm" / "models";
  } else {
    return std::nullopt;
  }
  std::error_code ec;
  if (!fs::is_directory(root / "face-api" / "demo", ec)) return std::nullopt;
  return (root / "face-api" / "demo").string();
}

// The stems (sample1, sample2, ...) with both a .json and a .safetensors file, sorted.
inline std::vector<std::string> ReferenceSamples(const std::string& dir) {
  std::vector<std::string> stems;
  const std::regex pattern("sample[0-9]+");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const fs::path path = entry.path();
    if (path.extension() != ".json" || !std::regex_match(path.stem().string(), pattern)) continue;
    if (fs::exists(fs::path(dir) / (path.stem().string() + ".safetensors"), ec)) {
      stems.push_back(path.stem().string());
    }
  }
  std::sort(stems.begin(), stems.end());
  return stems;
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline nlohmann::json ReadJson(const std::string& path) {
  return nlohmann::json::parse(ReadFileBytes(path));
}

inline std::string Sha256Hex(const void* data, size_t size) {
  sd::Sha256 sha;
  sha.Update(data, size);
  return sha.FinishHex();
}

// A safetensors file read whole (the reference files are a few MB): name -> dtype, shape,
// raw little-endian bytes.
class ReferenceTensors {
 public:
  struct Tensor {
    std::string dtype;
    std::vector<int64_t> shape;
    std::string bytes;
  };

  explicit ReferenceTensors(const std::string& path) {
    const std::string file = ReadFileBytes(path);
    if (file.size() < 8) return;
    uint64_t header_size = 0;
    std::memcpy(&header_size, file.data(), 8);
    if (8 + header_size > file.size()) return;
    const nlohmann::json header = nlohmann::json::parse(file.substr(8, header_size));
    const size_t data = 8 + header_size;
    for (const auto& [name, info] : header.items()) {
      if (name == "__metadata__") continue;
      Tensor tensor;
      tensor.dtype = info.at("dtype").get<std::string>();
      tensor.shape = info.at("shape").get<std::vector<int64_t>>();
      const auto offsets = info.at("data_offsets").get<std::vector<uint64_t>>();
      tensor.bytes = file.substr(data + offsets[0], offsets[1] - offsets[0]);
      tensors_[name] = std::move(tensor);
    }
  }

  bool Has(const std::string& name) const { return tensors_.count(name) > 0; }
  const Tensor& Get(const std::string& name) const { return tensors_.at(name); }

  std::vector<float> Floats(const std::string& name) const {
    const Tensor& t = Get(name);
    std::vector<float> out(t.bytes.size() / 4);
    std::memcpy(out.data(), t.bytes.data(), out.size() * 4);
    return out;
  }
  // U8-stored int32 graph inputs.
  std::vector<int32_t> Ints(const std::string& name) const {
    const Tensor& t = Get(name);
    return std::vector<int32_t>(reinterpret_cast<const uint8_t*>(t.bytes.data()),
                                reinterpret_cast<const uint8_t*>(t.bytes.data()) + t.bytes.size());
  }
  // Row `row` of a [n, cols] float tensor.
  std::vector<float> Row(const std::string& name, int row) const {
    const Tensor& t = Get(name);
    const size_t cols = static_cast<size_t>(t.shape.back());
    const std::vector<float> all = Floats(name);
    return std::vector<float>(all.begin() + row * cols, all.begin() + (row + 1) * cols);
  }

 private:
  std::map<std::string, Tensor> tensors_;
};

}  // namespace farm::pose::testing

// Skip (with the reason) when the reference folder is absent.
#define FARM_POSE_REQUIRE_REFERENCE(var)                                                          \
  auto var##_opt = ::farm::pose::testing::FindPoseReferenceDir();                                 \
  if (!var##_opt) GTEST_SKIP() << "pose reference data not found (set FARM_POSE_REFERENCE)";      \
  const std::string var = *var##_opt;                                                             \
  if (::farm::pose::testing::ReferenceSamples(var).empty())                                       \
  GTEST_SKIP() << "no sampleN.json + sampleN.safetensors in " << var
