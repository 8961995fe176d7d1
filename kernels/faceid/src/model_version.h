// Helpers behind DescriptorModelVersion (pipeline.h).
#pragma once

#include <string>

#include "farm/schemas/status.h"

namespace farm::faceid::internal {

// Lower-case hex SHA-256 over the shard files a tfjs manifest lists, in manifest order.
StatusOr<std::string> HashManifestShards(const std::string& manifest_path);
// "face-api-1.7.15/face_recognition_model@" + the first 12 hex digits.
std::string VersionFromSha256(const std::string& sha256_hex);

}  // namespace farm::faceid::internal
