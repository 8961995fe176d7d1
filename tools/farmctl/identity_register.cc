#include "identity_register.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "face_embedding.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;

// Why a photo cannot join the identity as it is, or "" when it can.
std::string Problem(const EmbeddedImage& image, bool pick_largest) {
  if (!image.ok) return "cannot be analysed: " + image.error;
  if (image.faces.empty()) return "no face found";
  if (image.faces.size() > 1 && !pick_largest) {
    return std::to_string(image.faces.size()) +
           " faces found (each photo must show only the person; pass --pick largest to keep "
           "the largest face)";
  }
  return "";
}

}  // namespace

double DescriptorNorm(const std::vector<float>& descriptor) {
  double sum = 0;
  for (float x : descriptor) sum += static_cast<double>(x) * x;
  return std::sqrt(sum);
}

RegisterResult RegisterIdentity(farm::store::Store& store, const IdentityRequest& request) {
  RegisterResult result;
  if (request.name.empty()) {
    result.stored = farm::InvalidArgument("the identity name is empty");
    return result;
  }
  if (store.GetIdentityByName(request.name).ok()) {
    result.stored = farm::AlreadyExists("identity '" + request.name + "' exists in " +
                                        store.path() + " (pick another name)");
    return result;
  }
  // The photos' hashes first: a missing file or the same photo twice fails before the
  // (slower) face analysis.
  std::vector<std::string> digests;
  std::map<std::string, std::string> seen;  // sha256 -> path
  for (const std::string& photo : request.photos) {
    auto digest = farm::Sha256File(photo);
    if (!digest.ok()) {
      result.stored = digest.status();
      return result;
    }
    if (auto [it, fresh] = seen.emplace(*digest, photo); !fresh) {
      result.stored = farm::InvalidArgument(photo + " and " + it->second +
                                            " are the same photo (same sha256)");
      return result;
    }
    digests.push_back(*digest);
  }

  auto embedding = EmbedImages(request.agent_path, request.models_dir, request.photos);
  if (!embedding.ok()) {
    result.stored = embedding.status();
    return result;
  }
  for (const EmbeddedImage& image : embedding->images) {
    if (std::string why = Problem(image, request.pick_largest); !why.empty()) {
      result.rejected.push_back({image.image, why});
    }
  }
  if (!result.rejected.empty()) {
    std::string message = "identity '" + request.name + "' not stored: " +
                          std::to_string(result.rejected.size()) + " of " +
                          std::to_string(request.photos.size()) + " photos cannot be used";
    for (const auto& [photo, why] : result.rejected) message += "\n  " + photo + ": " + why;
    result.stored = farm::InvalidArgument(message);
    return result;
  }

  farm::store::NewIdentity identity;
  identity.name = request.name;
  identity.instance_token = request.token;
  StoredIdentity stored;
  stored.descriptor_model = embedding->model_version;
  for (size_t i = 0; i < request.photos.size(); ++i) {
    const EmbeddedImage& image = embedding->images[i];
    const int kept = LargestFace(image);  // the only face, or the largest when picking
    nlohmann::json faces = nlohmann::json::array();
    for (size_t f = 0; f < image.faces.size(); ++f) {
      nlohmann::json face = image.faces[f].json;
      face["used"] = static_cast<int>(f) == kept;
      faces.push_back(std::move(face));
    }
    std::error_code ec;
    const fs::path absolute = fs::absolute(request.photos[i], ec);
    farm::store::NewIdentityPhoto photo;
    photo.sha256 = digests[i];
    photo.path = ec ? request.photos[i] : absolute.lexically_normal().string();
    photo.face_count = static_cast<int>(image.faces.size());
    photo.descriptor = image.faces[kept].descriptor;
    photo.descriptor_model = embedding->model_version;
    photo.faces_json = faces.dump();
    stored.photos.push_back({photo.path, photo.sha256, static_cast<int>(image.faces.size()), kept,
                             DescriptorNorm(photo.descriptor)});
    identity.photos.push_back(std::move(photo));
  }
  auto id = store.CreateIdentity(identity);
  if (!id.ok()) {
    result.stored = id.status();
    return result;
  }
  stored.id = *id;
  result.stored = std::move(stored);
  return result;
}

}  // namespace farmctl
