// The models folder's index, <models_dir>/index.json, written by `farmctl models` and read
// wherever a spec names a model as "models:NAME". One entry per named file: where it is
// (relative to the models folder, or absolute for a linked file outside it), what kind it
// is, its SHA-256 and A1111's short hash, and the size and mtime that let `farmctl models`
// skip rehashing an unchanged file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::sweep {

struct ModelEntry {
  std::string name;
  std::string path;    // relative to the models folder, or absolute (a linked file)
  std::string kind;    // "sd15", "sd15-inpainting", "lora", "controlnet", "vae", "embedding"
  std::string sha256;  // lowercase hex
  std::string autov2;  // A1111's short hash: the first 10 hex digits of sha256
  std::string dtype;   // the dtype most of the tensors' bytes are in: "F16", "F32", "BF16"
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
};

inline constexpr const char* kModelIndexFile = "index.json";

// The entries of <models_dir>/index.json sorted by name; none when the file does not
// exist; InvalidArgument naming the file when it is not an index.
StatusOr<std::vector<ModelEntry>> ReadModelIndex(const std::string& models_dir);

// Replaces <models_dir>/index.json atomically (a temporary file renamed over it).
Status WriteModelIndex(const std::string& models_dir, std::vector<ModelEntry> entries);

// The entry's file on this disk.
std::string ModelEntryPath(const std::string& models_dir, const ModelEntry& entry);

// The named entry, or NotFound listing what `farmctl models add` would do.
StatusOr<ModelEntry> FindModel(const std::string& models_dir, const std::string& name);

}  // namespace farm::sweep
