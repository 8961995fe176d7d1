#include "farm/sweep/model_index.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace farm::sweep {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string IndexPath(const std::string& models_dir) {
  return (fs::path(models_dir) / kModelIndexFile).string();
}

}  // namespace

StatusOr<std::vector<ModelEntry>> ReadModelIndex(const std::string& models_dir) {
  const std::string path = IndexPath(models_dir);
  std::error_code error;
  if (!fs::exists(path, error)) return std::vector<ModelEntry>{};
  std::ifstream in(path);
  if (!in) return Unavailable(path + ": cannot open the models index");
  std::stringstream text;
  text << in.rdbuf();
  const json doc = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& what) {
    return InvalidArgument(path + ": not a models index (" + what +
                           "); expected {\"models\": [...]} as `farmctl models add` writes it");
  };
  if (doc.is_discarded()) return bad("not valid JSON");
  if (!doc.is_object() || !doc.contains("models") || !doc["models"].is_array()) {
    return bad("no \"models\" array");
  }
  std::vector<ModelEntry> entries;
  for (const json& item : doc["models"]) {
    if (!item.is_object() || !item.value("name", json()).is_string() ||
        !item.value("path", json()).is_string()) {
      return bad("an entry without a name and path");
    }
    ModelEntry entry;
    entry.name = item["name"];
    entry.path = item["path"];
    entry.kind = item.value("kind", "");
    entry.sha256 = item.value("sha256", "");
    entry.autov2 = item.value("autov2", "");
    entry.dtype = item.value("dtype", "");
    entry.size = item.value("size", std::uint64_t{0});
    entry.mtime_ns = item.value("mtime_ns", std::int64_t{0});
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const ModelEntry& a, const ModelEntry& b) { return a.name < b.name; });
  return entries;
}

Status WriteModelIndex(const std::string& models_dir, std::vector<ModelEntry> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const ModelEntry& a, const ModelEntry& b) { return a.name < b.name; });
  nlohmann::ordered_json models = nlohmann::ordered_json::array();
  for (const ModelEntry& entry : entries) {
    models.push_back({{"name", entry.name},     {"path", entry.path},
                      {"kind", entry.kind},     {"sha256", entry.sha256},
                      {"autov2", entry.autov2}, {"dtype", entry.dtype},
                      {"size", entry.size},     {"mtime_ns", entry.mtime_ns}});
  }
  const nlohmann::ordered_json doc = {{"version", 1}, {"models", models}};
  std::error_code error;
  fs::create_directories(models_dir, error);
  if (error) return Unavailable(models_dir + ": cannot create the models folder: " + error.message());
  const std::string path = IndexPath(models_dir);
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << doc.dump(2) << "\n";
    out.flush();
    if (!out) return Unavailable(temp + ": cannot write the models index");
  }
  fs::rename(temp, path, error);
  if (error) return Unavailable(path + ": cannot replace the models index: " + error.message());
  return Status::Ok();
}

std::string ModelEntryPath(const std::string& models_dir, const ModelEntry& entry) {
  const fs::path path(entry.path);
  return path.is_absolute() ? path.string() : (fs::path(models_dir) / path).string();
}

StatusOr<ModelEntry> FindModel(const std::string& models_dir, const std::string& name) {
  FARM_ASSIGN_OR_RETURN(std::vector<ModelEntry> entries, ReadModelIndex(models_dir));
  for (ModelEntry& entry : entries) {
    if (entry.name == name) return std::move(entry);
  }
  return NotFound("no model named '" + name + "' in " + IndexPath(models_dir) +
                  "; expected a name `farmctl models list` shows (add the file with "
                  "`farmctl models add FILE --as " + name + "`)");
}

}  // namespace farm::sweep
