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
#include <functional>
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

// How a writer orders the header and the data. Both write compact JSON (no spaces),
// padded with spaces to a multiple of 8, data contiguous in header order; readers treat
// both alike.
enum class SafetensorsLayout {
  // Tensors sorted by name; "__metadata__" only when there is metadata. The farm's own
  // files (models, tiny checkpoints) have always been written so.
  kByName,
  // What Python's `safetensors.torch.save(tensors, metadata)` writes (the Rust crate's
  // `serialize`, 0.4.x to 0.7): tensors sorted by dtype in the crate's descending enum
  // order (I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL), then by name; a given
  // metadata map is written even when empty ("__metadata__":{}). The crate keeps the
  // metadata in a Rust HashMap, so Python's key order is random per process; ours is
  // sorted. Length, offsets and data are the same either way, which is what kohya's
  // LoRA hashes depend on (kohya_hashes.h).
  kPython,
};

// Receives a serialized file piece by piece (length, header, then each tensor's data).
using SafetensorsSink = std::function<Status(std::string_view bytes)>;

// Serializes `tensors` with `metadata` (nullptr: no "__metadata__" at all) in `layout`,
// handing the bytes to `sink` in file order, one tensor at a time, so that writing or
// hashing a large map needs no second copy of it. Every tensor is checked (defined, a
// storable dtype, not named "__metadata__") before `sink` sees a byte; the first error
// of `sink` stops the stream and is returned.
Status StreamSafetensors(const TensorMap& tensors, const std::map<std::string, std::string>* metadata,
                         SafetensorsLayout layout, const SafetensorsSink& sink);

// The whole file as Python's `safetensors.torch.save(tensors, metadata)` returns it
// (metadata nullptr: Python's metadata=None).
StatusOr<std::string> SerializeSafetensorsAsPython(const TensorMap& tensors,
                                                   const std::map<std::string, std::string>* metadata);

// Written in `layout` to a temporary file in the same folder, flushed and renamed, so a
// failure never leaves a half-written file under `path`.
Status WriteSafetensors(const std::string& path, const TensorMap& tensors,
                        const std::map<std::string, std::string>& metadata = {},
                        SafetensorsLayout layout = SafetensorsLayout::kByName);

}  // namespace farm::sd
