// DescriptorModelVersion: names the recognition weights by the SHA-256 of their shards.
#include "model_version.h"

#include <filesystem>
#include <fstream>

#include "farm/faceid/pipeline.h"
#include "farm/sd/json.h"
#include "farm/sd/sha256.h"

namespace farm::faceid {
namespace {

constexpr const char* kRecognitionManifest = "face_recognition_model-weights_manifest.json";
constexpr const char* kVersionPrefix = "face-api-1.7.15/face_recognition_model@";

StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}

}  // namespace

namespace internal {

// SHA-256 over the shard files a tfjs manifest lists, in manifest order.
StatusOr<std::string> HashManifestShards(const std::string& manifest_path) {
  FARM_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(manifest_path));
  auto json = sd::Json::Parse(text);
  if (!json.ok()) return json.status().WithContext(manifest_path);
  if (!json->is_array()) return InvalidArgument(manifest_path + ": expected an array of groups");
  const std::filesystem::path dir = std::filesystem::path(manifest_path).parent_path();
  sd::Sha256 hash;
  int shards = 0;
  std::string chunk(1 << 20, '\0');
  for (const sd::Json& group : json->items()) {
    const sd::Json* paths = group.Find("paths");
    if (!paths || !paths->is_array()) {
      return InvalidArgument(manifest_path + ": a group has no \"paths\" array");
    }
    for (const sd::Json& p : paths->items()) {
      if (!p.is_string()) return InvalidArgument(manifest_path + ": a shard path is not a string");
      const std::string shard = (dir / p.text()).string();
      std::ifstream in(shard, std::ios::binary);
      if (!in) return NotFound(manifest_path + ": shard " + shard + " cannot be opened");
      while (in) {
        in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        hash.Update(std::string_view(chunk.data(), static_cast<size_t>(in.gcount())));
      }
      if (in.bad()) return DataLoss(shard + ": read error");
      ++shards;
    }
  }
  if (shards == 0) return InvalidArgument(manifest_path + ": lists no shard files");
  return hash.FinishHex();
}

std::string VersionFromSha256(const std::string& sha256_hex) {
  return kVersionPrefix + sha256_hex.substr(0, 12);
}

}  // namespace internal

StatusOr<std::string> DescriptorModelVersion(const std::string& model_dir) {
  FARM_ASSIGN_OR_RETURN(std::string sha,
                        internal::HashManifestShards(model_dir + "/" + kRecognitionManifest));
  return internal::VersionFromSha256(sha);
}

}  // namespace farm::faceid
