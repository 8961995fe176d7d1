#include "farm/sd/model_hints.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "farm/sd/json.h"
#include "farm/sd/safetensors.h"

namespace farm::sd {
namespace fs = std::filesystem;
namespace {

// Reads integer `key` of a diffusers config.json into `field` when the file and key
// exist. attention_head_dim may also be a per-level list; SD 1.x uses one value.
Status ReadConfigInt(const fs::path& config, const char* key, int64_t& field) {
  if (!fs::is_regular_file(config)) return Status::Ok();
  std::ifstream in(config);
  std::stringstream text;
  text << in.rdbuf();
  auto doc = Json::Parse(text.str());
  if (!doc.ok()) return doc.status().WithContext(config.string());
  const Json* value = doc->Find(key);
  if (value == nullptr || value->is_null()) return Status::Ok();
  if (value->is_array() && !value->items().empty()) value = &value->items().front();
  std::optional<int64_t> number = value->AsInt64();
  if (!number || *number <= 0) {
    return InvalidArgument(config.string() + ": '" + key + "' must be a positive integer");
  }
  field = *number;
  return Status::Ok();
}

}  // namespace

StatusOr<SdArchitecture> ReadModelHints(const std::string& checkpoint) {
  SdArchitecture arch = Sd15Architecture();
  fs::path path(checkpoint);
  if (fs::is_directory(path)) {
    FARM_RETURN_IF_ERROR(ReadConfigInt(path / "unet" / "config.json", "attention_head_dim", arch.unet.heads));
    FARM_RETURN_IF_ERROR(ReadConfigInt(path / "unet" / "config.json", "norm_num_groups", arch.unet.norm_groups));
    FARM_RETURN_IF_ERROR(ReadConfigInt(path / "vae" / "config.json", "norm_num_groups", arch.vae.norm_groups));
    FARM_RETURN_IF_ERROR(
        ReadConfigInt(path / "text_encoder" / "config.json", "num_attention_heads", arch.text.heads));
    return arch;
  }
  FARM_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(checkpoint));
  Status applied = ApplyArchitectureMetadata(file->metadata(), arch);
  if (!applied.ok()) return applied.WithContext(checkpoint);
  return arch;
}

StatusOr<UNetArchitecture> ReadControlNetHints(const std::string& controlnet, const UNetArchitecture& base) {
  SdArchitecture arch;
  arch.unet = base;
  fs::path path(controlnet);
  if (fs::is_directory(path)) {
    FARM_RETURN_IF_ERROR(ReadConfigInt(path / "config.json", "attention_head_dim", arch.unet.heads));
    FARM_RETURN_IF_ERROR(ReadConfigInt(path / "config.json", "norm_num_groups", arch.unet.norm_groups));
    return arch.unet;
  }
  FARM_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(controlnet));
  std::map<std::string, std::string> metadata;
  for (const char* key : {kMetadataUNetHeads, kMetadataUNetNormGroups}) {
    auto it = file->metadata().find(key);
    if (it != file->metadata().end()) metadata.insert(*it);
  }
  Status applied = ApplyArchitectureMetadata(metadata, arch);
  if (!applied.ok()) return applied.WithContext(controlnet);
  return arch.unet;
}

}  // namespace farm::sd
