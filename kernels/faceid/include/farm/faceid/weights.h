// Weights of a face-api model in the tfjs format: "<model>-weights_manifest.json"
// (an array of groups {paths:[...], weights:[{name, shape, dtype, quantization?}]}) and
// the .bin shards it names, holding every tensor one after another in manifest order.
//
// Decoding: uint8/uint16 quantised values are float32(q*scale + min) computed in double;
// an int32-dtype tensor with quantisation is Math.round(q*scale + min); plain float32
// and int32 are taken as they are. Every tensor is returned as float32.
//
// Everything read from the manifest is bounds-checked: the byte sizes must add up to the
// shard bytes exactly; unknown dtypes, negative or overflowing shapes, duplicate names
// and missing shard files are errors naming the file and the tensor.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::faceid {

class TfjsWeights {
 public:
  // Reads the manifest and its .bin shards (paths relative to the manifest's folder).
  static StatusOr<TfjsWeights> Load(const std::string& manifest_path);
  // Parses a manifest and the bytes of all its shards concatenated in manifest order.
  // `origin` names the source in error messages.
  static StatusOr<TfjsWeights> Parse(std::string_view manifest_json,
                                     std::string_view shard_bytes_concatenated,
                                     const std::string& origin);

  // Tensor names in manifest order.
  const std::vector<std::string>& names() const { return names_; }
  bool Has(const std::string& name) const { return tensors_.count(name) != 0; }
  // The tensor (float32, CPU, shape as in the manifest). Errors name the tensor and the
  // expected vs actual shape, or say it is missing.
  StatusOr<at::Tensor> Get(const std::string& name, const std::vector<int64_t>& expected_shape) const;
  // The tensor with whatever shape the manifest gives, or NotFound.
  StatusOr<at::Tensor> GetAnyShape(const std::string& name) const;
  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, at::Tensor> tensors_;
};

}  // namespace farm::faceid
