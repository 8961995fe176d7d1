#include "reference_paths.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace farm::sd::testing {
namespace fs = std::filesystem;

namespace {
std::optional<std::string> FindReferenceDir(const char* env, const char* name) {
  if (const char* dir = std::getenv(env); dir && *dir) {
    if (fs::is_directory(dir)) return std::string(dir);
    return std::nullopt;
  }
  const char* root = std::getenv("FARM_SOURCE_DIR");
  fs::path base = root ? fs::path(root) : fs::current_path();
  for (const fs::path& candidate : {base / ".." / "shared" / "reference" / name,
                                    base / "shared" / "reference" / name}) {
    std::error_code ec;
    if (fs::is_directory(candidate, ec)) return fs::weakly_canonical(candidate, ec).string();
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string> FindSd15ReferenceDir() { return FindReferenceDir("FARM_SD_REFERENCE", "sd15"); }

std::optional<std::string> FindClipReferenceDir() { return FindReferenceDir("FARM_CLIP_REFERENCE", "clip"); }

std::optional<std::string> FindTrainReferenceDir() {
  return FindReferenceDir("FARM_TRAIN_REFERENCE", "train");
}

namespace {
struct Scratch {
  fs::path path;
  Scratch() {
    path = fs::temp_directory_path() / ("farm-sd-test-" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
}  // namespace

std::string ScratchDir() {
  static Scratch scratch;
  return scratch.path.string();
}

std::string ScratchPath(const std::string& folder, const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(ScratchDir()) / folder;
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace farm::sd::testing
