// FaceDetectorVersion (prepare_dataset.h): the detector's weights name the boxes a
// dataset was cut from.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "farm/agent/prepare_dataset.h"
#include "farm/schemas/sha256.h"

namespace farm::agent {

StatusOr<std::string> FaceDetectorVersion(const std::string& model_dir) {
  namespace fs = std::filesystem;
  const fs::path manifest_path = fs::path(model_dir) / "ssd_mobilenetv1_model-weights_manifest.json";
  std::ifstream in(manifest_path);
  if (!in) return NotFound(manifest_path.string() + ": cannot read the face detector's manifest");
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json manifest = nlohmann::json::parse(text.str(), nullptr, false);
  if (!manifest.is_array()) return DataLoss(manifest_path.string() + ": not a tfjs weights manifest (array)");
  Sha256 hash;
  int shards = 0;
  for (const nlohmann::json& group : manifest) {
    if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array()) {
      return DataLoss(manifest_path.string() + ": a weight group without 'paths'");
    }
    for (const nlohmann::json& name : group["paths"]) {
      if (!name.is_string()) return DataLoss(manifest_path.string() + ": a shard path is not a string");
      const fs::path shard = fs::path(model_dir) / name.get<std::string>();
      std::ifstream bytes(shard, std::ios::binary);
      if (!bytes) return NotFound(shard.string() + ": cannot read the face detector's weights");
      char buffer[1 << 16];
      while (bytes.read(buffer, sizeof(buffer)) || bytes.gcount() > 0) {
        hash.Update(buffer, static_cast<size_t>(bytes.gcount()));
      }
      ++shards;
    }
  }
  if (shards == 0) return DataLoss(manifest_path.string() + ": lists no weight shards");
  return "ssd_mobilenetv1@" + hash.FinishHex().substr(0, 12);
}

}  // namespace farm::agent
