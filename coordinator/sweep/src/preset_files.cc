#include "farm/sweep/preset_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace farm::sweep {

namespace fs = std::filesystem;

StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return DataLoss("read error in '" + path + "'");
  return text.str();
}

Status LoadPresetFiles(const std::string& config_dir, SpecPresets* presets,
                       std::vector<Diagnostic>* problems) {
  std::error_code ec;
  const fs::path tones = fs::path(config_dir) / "tones.yaml";
  if (fs::exists(tones, ec)) {
    FARM_ASSIGN_OR_RETURN(std::string text, ReadTextFile(tones.string()));
    auto found = CheckTonePresets(text, tones.string(), &presets->tones);
    problems->insert(problems->end(), found.begin(), found.end());
  }
  const fs::path pipelines = fs::path(config_dir) / "pipelines.yaml";
  if (fs::exists(pipelines, ec)) {
    FARM_ASSIGN_OR_RETURN(std::string text, ReadTextFile(pipelines.string()));
    auto found = CheckPipelinePresets(text, pipelines.string(), &presets->pipelines);
    problems->insert(problems->end(), found.begin(), found.end());
  }
  return Status::Ok();
}

}  // namespace farm::sweep
