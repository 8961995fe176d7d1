#include "dataset_folder.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "farm/agent/prepare_dataset.h"
#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace internal {
namespace fs = std::filesystem;

StatusOr<std::string> MakeTemporaryDatasetFolder(const std::string& out_root, const std::string& dataset_id) {
  std::error_code ec;
  fs::create_directories(out_root, ec);
  if (ec) return Unavailable(out_root + ": cannot create the datasets folder: " + ec.message());
  std::string pattern = (fs::path(out_root) / (".partial-" + dataset_id.substr(0, 16) + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return Unavailable(out_root + ": cannot create a temporary folder: " + std::strerror(errno));
  }
  return pattern;
}

StatusOr<bool> PublishDatasetFolder(const std::string& temporary, const std::string& final_folder) {
  std::error_code ec;
  fs::rename(temporary, final_folder, ec);
  if (!ec) return true;
  if (ec == std::errc::directory_not_empty || ec == std::errc::file_exists) {
    RemoveFolderQuietly(temporary);
    return false;
  }
  return Unavailable("cannot rename " + temporary + " to " + final_folder + ": " + ec.message());
}

void RemoveFolderQuietly(const std::string& folder) {
  std::error_code ignored;
  fs::remove_all(folder, ignored);
}

}  // namespace internal

StatusOr<DatasetManifest> LoadPreparedDataset(const std::string& folder, const std::string& expected_id) {
  namespace fs = std::filesystem;
  const fs::path path = fs::path(folder) / kManifestFileName;
  std::ifstream in(path, std::ios::binary);
  if (!in) return DataLoss(folder + ": no readable " + kManifestFileName + " (not a prepared dataset)");
  std::stringstream text;
  text << in.rdbuf();
  FARM_ASSIGN_OR_RETURN(DatasetManifest manifest, ParseManifestJson(text.str(), path.string()));
  if (!expected_id.empty() && manifest.dataset_id != expected_id) {
    return DataLoss(path.string() + ": names dataset " + manifest.dataset_id + ", expected " + expected_id);
  }
  if (DatasetId(manifest) != manifest.dataset_id) {
    return DataLoss(path.string() + ": its settings and photos hash to " + DatasetId(manifest) +
                    ", not to its dataset_id " + manifest.dataset_id + " (edited by hand?)");
  }
  for (const PreparedImage& image : manifest.images) {
    // Only names inside images/ are trusted: a manifest must not point outside the folder.
    const fs::path relative(image.file);
    if (relative.is_absolute() || image.file.find("..") != std::string::npos) {
      return DataLoss(path.string() + ": image path '" + image.file + "' leaves the dataset folder");
    }
    StatusOr<std::string> digest = Sha256File((fs::path(folder) / relative).string());
    if (!digest.ok()) return DataLoss(folder + ": " + digest.status().message());
    if (*digest != image.sha256) {
      return DataLoss(folder + "/" + image.file + ": SHA-256 " + *digest + " differs from the manifest's " +
                      image.sha256 + " (the dataset was modified)");
    }
  }
  return manifest;
}

}  // namespace farm::agent
