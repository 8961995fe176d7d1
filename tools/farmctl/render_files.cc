#include "render_files.h"

#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "farm/schemas/render_infotext.h"
#include "farm/store/store.h"

namespace farmctl {

namespace fs = std::filesystem;

farm::StatusOr<std::int64_t> ResolveSweep(farm::store::Store& store, const std::string& text) {
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec == std::errc() && end == text.data() + text.size() && id > 0) {
    FARM_ASSIGN_OR_RETURN(farm::store::Sweep sweep, store.GetSweep(id));
    return sweep.id;
  }
  FARM_ASSIGN_OR_RETURN(std::vector<farm::store::Sweep> sweeps, store.ListSweeps());
  for (const farm::store::Sweep& sweep : sweeps) {  // newest first
    if (sweep.name == text) return sweep.id;
  }
  return farm::NotFound("no sweep '" + text + "': expected a sweep id or name (farmctl status lists them)");
}

farm::StatusOr<std::vector<std::int64_t>> ResolveSweeps(farm::store::Store& store,
                                                        const std::vector<std::string>& texts) {
  std::vector<std::int64_t> ids;
  for (const std::string& text : texts) {
    FARM_ASSIGN_OR_RETURN(std::int64_t id, ResolveSweep(store, text));
    ids.push_back(id);
  }
  return ids;
}

fs::path ArtifactRoot(const std::string& db_path, const std::string& option) {
  std::error_code ec;
  const fs::path root = option.empty() ? fs::path(db_path).parent_path() / "artifacts" : fs::path(option);
  const fs::path absolute = fs::absolute(root, ec);
  return ec ? root : absolute.lexically_normal();
}

std::string ArtifactFile(const fs::path& root, const farm::store::Artifact& artifact) {
  return (root / artifact.path).string();
}

farm::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return farm::NotFound(path + " does not exist");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in.good() && !in.eof()) return farm::Unavailable("cannot read " + path);
  return bytes.str();
}

farm::StatusOr<std::string> RenderParametersText(farm::store::Store& store,
                                                 const farm::store::Render& render,
                                                 const fs::path& root) {
  farm::RenderInfotextNames names;
  if (render.record_artifact_id) {
    // The final size is the record's; without a readable record the line is left out.
    auto artifact = store.GetArtifact(*render.record_artifact_id);
    auto text = artifact.ok() ? ReadWholeFile(ArtifactFile(root, *artifact))
                              : farm::StatusOr<std::string>(artifact.status());
    if (text.ok()) {
      const nlohmann::json record = nlohmann::json::parse(*text, nullptr, false);
      if (record.is_object()) {
        names.final_width = record.value("width", 0);
        names.final_height = record.value("height", 0);
      }
    }
  }
  FARM_ASSIGN_OR_RETURN(
      farm::GenerationParameters params,
      farm::RenderGenerationParameters(render.params, names, render.param_hash, std::to_string(render.id)));
  auto text = farm::FormatParameters(params);
  if (!text.ok()) return text.status().WithContext("render " + std::to_string(render.id) + " parameters text");
  return text;
}

}  // namespace farmctl
