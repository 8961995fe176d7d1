#include "face_models_dir.h"

#include <cstdlib>
#include <filesystem>

namespace farm::agent {

StatusOr<std::string> FaceModelDir(const std::string& flag) {
  namespace fs = std::filesystem;
  std::string root = flag;
  if (root.empty()) {
    const char* env = std::getenv("STUDIOFARM_MODELS");
    const char* home = std::getenv("HOME");
    root = env && *env ? env : std::string(home && *home ? home : ".") + "/.cache/studiofarm/models";
  }
  std::error_code ec;
  for (const fs::path& dir : {fs::path(root), fs::path(root) / "face-api" / "model"}) {
    if (fs::exists(dir / "ssd_mobilenetv1_model-weights_manifest.json", ec)) return dir.string();
  }
  return NotFound("face-api models not found under " + root +
                  " (looked in it and in face-api/model; run tools/setup.sh, or set "
                  "--models-dir / $STUDIOFARM_MODELS)");
}

}  // namespace farm::agent
