// Stores an identity from photos: hashes them, embeds them with one farm-agent call,
// refuses photos that do not show exactly one face (unless the largest may be picked),
// and writes the identity with every photo's faces and the kept face's descriptor.
// Used by `farmctl identity add` and by `farmctl run` for a sweep's identity.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::store {
class Store;
}

namespace farmctl {

struct IdentityRequest {
  std::string name;
  std::string token = "sks person";
  std::vector<std::string> photos;
  bool pick_largest = false;  // keep the largest face of a photo with several
  std::string agent_path;     // farm-agent
  std::string models_dir;     // face models (empty: the agent's default)
};

struct StoredPhoto {
  std::string path;  // absolute
  std::string sha256;
  int face_count = 0;
  int face_used = 0;
  double descriptor_norm = 0;
};

struct StoredIdentity {
  std::int64_t id = 0;
  std::string descriptor_model;
  std::vector<StoredPhoto> photos;
};

struct RegisterResult {
  farm::StatusOr<StoredIdentity> stored = farm::Internal("not run");
  // Photos that cannot be used, with why (then `stored` is InvalidArgument).
  std::vector<std::pair<std::string, std::string>> rejected;
};

// Euclidean length of a face descriptor (face-api's are near 1; shown to spot bad ones).
double DescriptorNorm(const std::vector<float>& descriptor);

// AlreadyExists when the name is taken; a photo listed twice (same sha256) is
// InvalidArgument before any face analysis.
RegisterResult RegisterIdentity(farm::store::Store& store, const IdentityRequest& request);

}  // namespace farmctl
