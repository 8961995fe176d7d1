// The tfjs weights manifest, validated: groups of shard paths and tensor specs with
// their byte sizes. Internal to farm_faceid (TfjsWeights decodes the bytes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::faceid::internal {

enum class StoredType { kFloat32, kInt32, kUint8, kUint16 };

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t numel = 0;
  bool is_int32 = false;   // manifest dtype "int32" (else "float32")
  bool quantized = false;
  StoredType stored = StoredType::kFloat32;  // element type in the shard bytes
  double scale = 1.0;      // quantisation: value = q * scale + min
  double min = 0.0;
  uint64_t byte_size = 0;  // bytes this tensor occupies in the shards
};

struct ManifestGroup {
  std::vector<std::string> paths;  // shard files, relative to the manifest
  std::vector<TensorSpec> weights;
  uint64_t byte_size = 0;          // sum of the weights' byte sizes
};

// Parses and validates a manifest: an array of {paths:[string...], weights:[{name,
// shape, dtype, quantization?}]}. dtype float32 or int32; quantization {dtype: uint8 or
// uint16, scale, min} with finite numbers; shapes of non-negative integers whose byte
// size fits in 64 bits; names unique over the whole manifest. `origin` prefixes errors.
StatusOr<std::vector<ManifestGroup>> ParseTfjsManifest(std::string_view json, const std::string& origin);

}  // namespace farm::faceid::internal
