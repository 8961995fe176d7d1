#include "faceid_paths.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace farm::faceid::testing {
namespace fs = std::filesystem;

namespace {

std::optional<fs::path> ModelsRoot() {
  if (const char* dir = std::getenv("STUDIOFARM_MODELS"); dir && *dir) return fs::path(dir);
  if (const char* home = std::getenv("HOME"); home && *home) {
    return fs::path(home) / ".cache" / "studiofarm" / "models";
  }
  return std::nullopt;
}

std::optional<std::string> ExistingDir(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return std::nullopt;
  return fs::weakly_canonical(path, ec).string();
}

}  // namespace

std::optional<std::string> FindFaceidReferenceDir() {
  if (const char* dir = std::getenv("FARM_FACEID_REFERENCE"); dir && *dir) return ExistingDir(dir);
  const char* root = std::getenv("FARM_SOURCE_DIR");
  const fs::path base = root && *root ? fs::path(root) : fs::current_path();
  for (const fs::path& candidate : {base / ".." / "shared" / "reference" / "faceid",
                                    base / "shared" / "reference" / "faceid"}) {
    if (auto found = ExistingDir(candidate)) return found;
  }
  return std::nullopt;
}

std::optional<std::string> FindFaceModelDir() {
  const auto root = ModelsRoot();
  if (!root) return std::nullopt;
  return ExistingDir(*root / "face-api" / "model");
}

std::optional<std::string> FindFaceDemoDir() {
  const auto root = ModelsRoot();
  if (!root) return std::nullopt;
  return ExistingDir(*root / "face-api" / "demo");
}

}  // namespace farm::faceid::testing
