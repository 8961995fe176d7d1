// SpecResolver on the local filesystem, for farmctl.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "farm/sweep/resolver.h"

namespace farm::sweep {

// Path rules: "models:/a/b" is <models_dir>/a/b; "models:NAME" (no slash) is the file
// <models_dir>/index.json names NAME (`farmctl models add`); an absolute path is used as is; any
// other path is relative to `spec_dir` (the folder holding the spec file). Photo globs
// use glob(3) syntax. Hashes are cached per resolved path for the resolver's lifetime.
// Not thread-safe.
class FileSpecResolver : public SpecResolver {
 public:
  // `models_dir` may be empty; then "models:/" paths are NotFound with a hint.
  FileSpecResolver(std::string spec_dir, std::string models_dir);

  StatusOr<std::string> ResolveModel(const ModelRef& model) override;
  StatusOr<std::string> ResolvePhotoSet(const std::vector<std::string>& globs) override;
  StatusOr<std::vector<PreparePhoto>> ResolvePhotos(const std::vector<std::string>& globs) override;
  StatusOr<std::vector<FolderFile>> ResolveFolder(const std::string& folder, const std::string& extension) override;

  // The photo files the globs match, sorted and unique (what ResolvePhotoSet hashes);
  // NotFound when none match.
  StatusOr<std::vector<std::string>> ResolvePhotoFiles(const std::vector<std::string>& globs) const;

  // The filesystem path a spec path stands for (reads only the models index, for
  // "models:NAME").
  StatusOr<std::string> ResolvePath(const std::string& spec_path) const;

 private:
  StatusOr<std::string> HashFile(const std::string& path);

  std::string spec_dir_;
  std::string models_dir_;
  std::map<std::string, std::string> hash_cache_;  // resolved path -> sha256
};

}  // namespace farm::sweep
