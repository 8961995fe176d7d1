// The safetensors format (8-byte little-endian header length, a JSON header, raw
// little-endian tensor bytes): the only weight format the engine reads, because unlike
// pickle checkpoints loading it cannot run code.
//
// Reading maps the file read-only and checks the whole header before any tensor is
// touched: a hostile or truncated file is an error value naming the file and the
// tensor, never a crash or an out-of-bounds read.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/tensor_map.h"

namespace farm::sd {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// The header's spelling ("F32", "BOOL", ...) and back; nullopt for an unknown name.
const char* DTypeName(DType dtype);
std::optional<DType> DTypeFromName(std::string_view name);
size_t DTypeSize(DType dtype);
at::ScalarType ToScalarType(DType dtype);
// nullopt for ATen types safetensors cannot store (complex, quantized, ...).
std::optional<DType> DTypeFromScalarType(at::ScalarType type);

// One header entry; begin/end are byte offsets into the data section (after the header).
struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

class SafetensorsFile {  // read-only mmap of one file
 public:
  // Refuses pickle checkpoints (by extension or magic bytes) with an explanation.
  static StatusOr<std::shared_ptr<SafetensorsFile>> Open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }              // in file order
  const std::map<std::string, std::string>& metadata() const { return metadata_; }  // "__metadata__"
  const TensorInfo* Find(const std::string& name) const;
  // An owned CPU copy in the stored dtype, so it outlives the mapping.
  StatusOr<at::Tensor> Load(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  Status ReadHeader();  // fills tensors_ and metadata_ from the mapping

  std::string path_;
  const unsigned char* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  size_t data_start_ = 0;  // 8 + header length
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

StatusOr<TensorMap> ReadSafetensors(const std::string& path);  // every tensor, stored dtype

// Names sorted, data contiguous in that order, header padded with spaces to a multiple
// of 8. Written to a temporary file in the same folder and renamed, so a failure never
// leaves a half-written file under `path`.
Status WriteSafetensors(const std::string& path, const TensorMap& tensors,
                        const std::map<std::string, std::string>& metadata = {});

}  // namespace farm::sd
