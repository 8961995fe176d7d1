// The agent's model index: RenderParams name models by SHA-256 of the file; the index maps
// each hash to a file under the agent's models directory (--models-dir, default
// $STUDIOFARM_MODELS).
//
// Build() walks the directory for *.safetensors files (dot-folders skipped) and hashes each
// file once: hashes are cached in a JSON file keyed by relative path with size and mtime, so
// a restart rehashes only new or changed files. A cache that cannot be read is ignored; one
// that cannot be written is a warning in BuildStats, never an error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::agent {

struct ModelIndexOptions {
  std::string models_dir;
  // Empty: <models_dir>/.studiofarm-model-index.json.
  std::string cache_path;
};

struct ModelIndexStats {
  int files = 0;           // model files indexed
  int hashed = 0;          // of which hashed now (not taken from the cache)
  std::string cache_warning;  // why the cache was not written; empty when it was
};

struct ModelEntry {
  std::string path;  // absolute
  std::uint64_t size = 0;
  std::string sha256;  // of the file's bytes
};

class ModelIndex {
 public:
  // NotFound when models_dir is not a directory.
  static StatusOr<ModelIndex> Build(const ModelIndexOptions& options);

  // The file with this SHA-256 (lower-case hex; upper case is accepted). NotFound names the
  // hash and the models directory.
  StatusOr<ModelEntry> Find(const std::string& sha256) const;

  // A LoraRef::ref: "sha256:<hex>" resolves through Find. "train:<hash>@<step>" (a LoRA a
  // training job produced) is not a file of the models dir: FailedPrecondition (the render
  // runner resolves it through its TrainedLoraSource, which fetches it from farmd).
  // Anything else is InvalidArgument.
  StatusOr<ModelEntry> ResolveLoraRef(const std::string& ref) const;

  // Every indexed hash, sorted.
  std::vector<std::string> hashes() const;
  const ModelIndexStats& stats() const { return stats_; }
  const std::string& models_dir() const { return models_dir_; }

 private:
  std::string models_dir_;
  std::map<std::string, ModelEntry> by_hash_;
  ModelIndexStats stats_;
};

// The default models directory: $STUDIOFARM_MODELS, else ~/.cache/studiofarm/models.
// (Reads the environment; call from main only.)
std::string DefaultModelsDir();

}  // namespace farm::agent
