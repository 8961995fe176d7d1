// How expansion learns content hashes without touching files itself.
//
// Expansion needs the SHA-256 of the base checkpoint (and of the pose ControlNet) and the
// digest of the identity's photo set. Tests pass a fake; farmctl passes FileSpecResolver.
#pragma once

#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sweep/spec.h"

namespace farm::sweep {

// A model file found in a folder: its spec path (the folder's, then the file's path
// inside it) and its SHA-256.
struct FolderFile {
  std::string path;
  std::string sha256;
};

class SpecResolver {
 public:
  virtual ~SpecResolver() = default;

  // Lower-case hex SHA-256 of the model. When `model.sha256` is set it is the answer.
  // NotFound names the path when the file does not exist.
  virtual StatusOr<std::string> ResolveModel(const ModelRef& model) = 0;

  // farm::PhotoSetDigest of every file matched by the globs. NotFound lists the globs
  // when nothing matches.
  virtual StatusOr<std::string> ResolvePhotoSet(const std::vector<std::string>& globs) = 0;

  // Every photo the globs match, as a prepare job names it (PreparePhoto: the path after
  // "models:/", else an absolute path, and the file's sha256). The default refuses:
  // resolvers that cannot list files cannot expand a spec with train:.
  virtual StatusOr<std::vector<PreparePhoto>> ResolvePhotos(const std::vector<std::string>& globs);

  // Every file under `folder` (a spec path; subfolders too) whose name ends in `extension`
  // (any case), in path order. NotFound when the folder is missing or holds none. The
  // default refuses: resolvers that cannot list files.
  virtual StatusOr<std::vector<FolderFile>> ResolveFolder(const std::string& folder, const std::string& extension);
};

}  // namespace farm::sweep
