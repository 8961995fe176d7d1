// Pose files on disk: loading by path or by library name, and listing the library.
#include <algorithm>
#include <filesystem>
#include <system_error>

#include "farm/image/png_io.h"
#include "farm/image/pose.h"

namespace farm::image {
namespace {

bool ValidPoseName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

StatusOr<Pose> LoadPoseFile(const std::string& path) {
  StatusOr<std::string> text = ReadFileBytes(path);
  if (!text.ok()) return text.status().WithContext("pose file");
  FARM_ASSIGN_OR_RETURN(Pose pose, ParsePoseJson(*text, path));
  pose.name = std::filesystem::path(path).stem().string();
  return pose;
}

StatusOr<Pose> LoadPose(const std::string& library_dir, const std::string& name) {
  if (!ValidPoseName(name)) {
    return InvalidArgument("pose name '" + name + "': expected 1-64 characters of a-z, 0-9, _");
  }
  const std::filesystem::path path = std::filesystem::path(library_dir) / (name + ".json");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    StatusOr<std::vector<std::string>> names = ListPoses(library_dir);
    std::string known;
    if (names.ok()) {
      for (const std::string& n : *names) known += (known.empty() ? "" : ", ") + n;
    }
    return NotFound("pose '" + name + "': no file " + path.string() +
                    (known.empty() ? "" : "; the library has: " + known));
  }
  return LoadPoseFile(path.string());
}

StatusOr<std::vector<std::string>> ListPoses(const std::string& library_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(library_dir, ec)) {
    return NotFound("pose library " + library_dir + ": not a folder");
  }
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(library_dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      names.push_back(entry.path().stem().string());
    }
  }
  if (ec) return Unavailable("pose library " + library_dir + ": cannot list: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace farm::image
