// The weights manifest of a tfjs model decoded into tensors: float32 (raw, float16-stored
// or uint8/uint16-quantised `q*scale+min` in double, rounded once to float32) and int32.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "farm/schemas/status.h"

namespace farm::pose::internal {

// `manifest` is model.json's weightsManifest; shards are read from `folder`. `origin`
// (the model.json path) prefixes errors; a missing or short shard names the file.
StatusOr<std::map<std::string, at::Tensor>> LoadWeights(const nlohmann::json& manifest,
                                                        const std::string& folder,
                                                        const std::string& origin);

}  // namespace farm::pose::internal
