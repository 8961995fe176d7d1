// Shared helpers for the sweep tests: repository files, presets and a fake resolver.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "farm/sweep/expand.h"
#include "farm/sweep/parser.h"
#include "farm/sweep/presets.h"
#include "farm/sweep/resolver.h"

namespace farm::sweep::testing {

// The repository root from FARM_SOURCE_DIR; empty when unset.
std::string SourceDir();
std::string ReadFileOrDie(const std::string& path);

// farm_configs/tones.yaml and pipelines.yaml of the repository.
SpecPresets RepoPresets();

// Hashes derived from names, so tests need no files. Counts its calls.
class FakeResolver : public SpecResolver {
 public:
  StatusOr<std::string> ResolveModel(const ModelRef& model) override;
  StatusOr<std::string> ResolvePhotoSet(const std::vector<std::string>& globs) override;
  // One photo per glob: path without "models:/", sha256 derived from the glob.
  StatusOr<std::vector<PreparePhoto>> ResolvePhotos(const std::vector<std::string>& globs) override;
  // The names in `folders[folder]` as files of that folder, hashes derived from their paths.
  StatusOr<std::vector<FolderFile>> ResolveFolder(const std::string& folder, const std::string& extension) override;

  int model_calls = 0;
  int photo_calls = 0;
  std::map<std::string, Status> failures;  // path or glob -> error to return
  std::map<std::string, std::vector<std::string>> folders;  // folder -> file names
};

// Parses with RepoPresets(); fails the test (and returns an empty spec) when invalid.
SweepSpec ParseOrFail(const std::string& yaml);

// The diagnostics for an invalid spec (RepoPresets()).
std::vector<Diagnostic> Diagnose(const std::string& yaml);

// A valid spec's first lines: name, identity and checkpoint (3 lines), so that test
// specs can count lines from 4.
extern const char kSpecHeader[];

}  // namespace farm::sweep::testing
