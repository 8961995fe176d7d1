#include "farm/sweep/file_resolver.h"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "farm/schemas/sha256.h"
#include "farm/sweep/model_index.h"

namespace farm::sweep {
namespace {

constexpr std::string_view kModelsPrefix = "models:/";
constexpr std::string_view kModelNamePrefix = "models:";  // then a name, no slash

// Regular files matching a glob(3) pattern, sorted.
std::vector<std::string> Glob(const std::string& pattern) {
  glob_t matches{};
  std::vector<std::string> files;
  if (glob(pattern.c_str(), GLOB_NOSORT, nullptr, &matches) == 0) {
    for (std::size_t i = 0; i < matches.gl_pathc; ++i) {
      std::error_code error;
      if (std::filesystem::is_regular_file(matches.gl_pathv[i], error)) {
        files.emplace_back(matches.gl_pathv[i]);
      }
    }
  }
  globfree(&matches);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

FileSpecResolver::FileSpecResolver(std::string spec_dir, std::string models_dir)
    : spec_dir_(std::move(spec_dir)), models_dir_(std::move(models_dir)) {}

StatusOr<std::string> FileSpecResolver::ResolvePath(const std::string& spec_path) const {
  namespace fs = std::filesystem;
  if (spec_path.starts_with(kModelsPrefix)) {
    if (models_dir_.empty()) {
      return NotFound("'" + spec_path +
                      "' is under models:/ but no models directory is set; expected "
                      "--models-dir or the farm config's models_dir");
    }
    return (fs::path(models_dir_) / spec_path.substr(kModelsPrefix.size())).string();
  }
  if (spec_path.starts_with(kModelNamePrefix) &&
      spec_path.find('/') == std::string::npos) {
    const std::string name = spec_path.substr(kModelNamePrefix.size());
    if (models_dir_.empty()) {
      return NotFound("'" + spec_path + "' names a model in the models index but no models "
                      "directory is set; expected --models-dir or the farm config's models_dir");
    }
    FARM_ASSIGN_OR_RETURN(ModelEntry entry, FindModel(models_dir_, name));
    return ModelEntryPath(models_dir_, entry);
  }
  fs::path path(spec_path);
  if (path.is_absolute()) return path.string();
  return (fs::path(spec_dir_.empty() ? "." : spec_dir_) / path).lexically_normal().string();
}

StatusOr<std::string> FileSpecResolver::HashFile(const std::string& path) {
  if (auto it = hash_cache_.find(path); it != hash_cache_.end()) return it->second;
  FARM_ASSIGN_OR_RETURN(std::string hash, Sha256File(path));
  hash_cache_.emplace(path, hash);
  return hash;
}

StatusOr<std::string> FileSpecResolver::ResolveModel(const ModelRef& model) {
  if (!model.sha256.empty()) return model.sha256;
  FARM_ASSIGN_OR_RETURN(std::string path, ResolvePath(model.path));
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return NotFound("model file '" + model.path + "' not found (looked for " + path +
                    "); expected the file, or its sha256 in the spec");
  }
  return HashFile(path);
}

StatusOr<std::vector<std::string>> FileSpecResolver::ResolvePhotoFiles(
    const std::vector<std::string>& globs) const {
  std::vector<std::string> files;
  std::string looked;
  for (const std::string& pattern : globs) {
    FARM_ASSIGN_OR_RETURN(std::string resolved, ResolvePath(pattern));
    looked += (looked.empty() ? "" : ", ") + pattern + " (" + resolved + ")";
    for (std::string& file : Glob(resolved)) files.push_back(std::move(file));
  }
  if (files.empty()) {
    return NotFound("no photos match " + looked +
                    "; put the identity's photos there or point identity.photos at them");
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

StatusOr<std::string> FileSpecResolver::ResolvePhotoSet(const std::vector<std::string>& globs) {
  FARM_ASSIGN_OR_RETURN(std::vector<std::string> files, ResolvePhotoFiles(globs));
  std::vector<std::string> hashes;
  for (const std::string& file : files) {
    FARM_ASSIGN_OR_RETURN(std::string hash, HashFile(file));
    hashes.push_back(std::move(hash));
  }
  return PhotoSetDigest(std::move(hashes));
}

StatusOr<std::vector<PreparePhoto>> SpecResolver::ResolvePhotos(const std::vector<std::string>&) {
  return FailedPrecondition(
      "this resolver cannot list photo files; expected a resolver that reads the files "
      "(a spec with train: needs each photo's path and hash)");
}

StatusOr<std::vector<FolderFile>> SpecResolver::ResolveFolder(const std::string& folder, const std::string&) {
  return FailedPrecondition("this resolver cannot list the folder '" + folder +
                            "'; expected a resolver that reads the files, or the files listed one by one");
}

StatusOr<std::vector<FolderFile>> FileSpecResolver::ResolveFolder(const std::string& folder,
                                                                  const std::string& extension) {
  namespace fs = std::filesystem;
  FARM_ASSIGN_OR_RETURN(std::string resolved, ResolvePath(folder));
  std::error_code ec;
  if (!fs::is_directory(resolved, ec)) return NotFound(folder + " (" + resolved + "): no such folder");
  auto lower = [](std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
  };
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(resolved, fs::directory_options::follow_directory_symlink, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && lower(it->path().extension().string()) == lower(extension)) {
      files.push_back(it->path());
    }
  }
  if (ec) return Unavailable(folder + " (" + resolved + "): cannot list the folder: " + ec.message());
  if (files.empty()) return NotFound(folder + " (" + resolved + "): holds no *" + extension + " file");
  std::sort(files.begin(), files.end());
  std::vector<FolderFile> out;
  for (const fs::path& file : files) {
    FolderFile found;
    std::string inside = file.lexically_relative(resolved).generic_string();
    found.path = folder + (folder.ends_with('/') ? "" : "/") + inside;
    FARM_ASSIGN_OR_RETURN(found.sha256, HashFile(file.string()));
    out.push_back(std::move(found));
  }
  return out;
}

StatusOr<std::vector<PreparePhoto>> FileSpecResolver::ResolvePhotos(
    const std::vector<std::string>& globs) {
  namespace fs = std::filesystem;
  FARM_RETURN_IF_ERROR(ResolvePhotoFiles(globs).status());  // one clear error when none match
  std::map<std::string, PreparePhoto> by_file;
  for (const std::string& pattern : globs) {
    FARM_ASSIGN_OR_RETURN(std::string resolved, ResolvePath(pattern));
    const bool under_models = pattern.starts_with(kModelsPrefix);
    for (const std::string& file : Glob(resolved)) {
      if (by_file.contains(file)) continue;
      PreparePhoto photo;
      photo.path = under_models ? fs::path(file).lexically_relative(models_dir_).string()
                                : fs::absolute(file).lexically_normal().string();
      FARM_ASSIGN_OR_RETURN(photo.sha256, HashFile(file));
      by_file.emplace(file, std::move(photo));
    }
  }
  std::vector<PreparePhoto> photos;
  for (auto& [file, photo] : by_file) photos.push_back(std::move(photo));
  std::sort(photos.begin(), photos.end(), [](const PreparePhoto& a, const PreparePhoto& b) {
    return a.sha256 != b.sha256 ? a.sha256 < b.sha256 : a.path < b.path;
  });
  return photos;
}

}  // namespace farm::sweep
