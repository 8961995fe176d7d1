#include "farm/schemas/render_params.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "canonical_json_writer.h"
#include "farm/schemas/sha256.h"

namespace farm {
namespace {

using Json = nlohmann::json;

Json SettingsToJson(const Settings& settings) {
  Json out = Json::object();
  for (const auto& entry : settings) {
    // Not a structured binding: clang before 16 cannot capture those in a lambda.
    const auto& key = entry.first;
    std::visit([&out, &key](const auto& v) { out[key] = v; }, entry.second);
  }
  return out;
}

Json ToJson(const RenderParams& p) {
  Json loras = Json::array();
  for (const LoraRef& lora : p.loras) loras.push_back({{"ref", lora.ref}, {"weight", lora.weight}});
  Json controlnets = Json::array();
  for (const ControlNetUnit& unit : p.controlnets) {
    controlnets.push_back({{"model", unit.model_sha256},
                           {"input", unit.input},
                           {"weight", unit.weight},
                           {"start", unit.guidance_start},
                           {"end", unit.guidance_end}});
  }
  Json stages = Json::array();
  for (const StageSettings& stage : p.stages) {
    stages.push_back({{"kind", stage.kind}, {"settings", SettingsToJson(stage.settings)}});
  }
  Json out = {{"v", kRecordVersion},
              {"kind", "render"},
              {"prompt", p.prompt},
              {"negative_prompt", p.negative_prompt},
              {"seed", p.seed},
              {"sampler", p.sampler},
              {"scheduler", p.scheduler},
              {"steps", p.steps},
              {"cfg", p.cfg},
              {"clip_skip", p.clip_skip},
              {"width", p.width},
              {"height", p.height},
              {"pose", p.pose},
              {"tone", p.tone},
              {"denoise", p.denoise},
              {"checkpoint", p.checkpoint_sha256},
              {"loras", loras},
              {"controlnets", controlnets},
              {"stages", stages},
              {"engine", p.engine},
              {"rng", p.rng}};
  // Optional: omitted when empty so every record written before it hashes the same.
  if (!p.vae_sha256.empty()) out["vae"] = p.vae_sha256;
  if (!p.embeddings.empty()) out["embeddings"] = p.embeddings;
  return out;
}

std::vector<PreparePhoto> SortedPhotos(std::vector<PreparePhoto> photos) {
  std::sort(photos.begin(), photos.end(), [](const PreparePhoto& a, const PreparePhoto& b) {
    return a.sha256 != b.sha256 ? a.sha256 < b.sha256 : a.path < b.path;
  });
  return photos;
}

Json ToJson(const PrepareParams& p) {
  Json photos = Json::array();
  for (const PreparePhoto& photo : SortedPhotos(p.photos)) {
    photos.push_back({{"path", photo.path}, {"sha256", photo.sha256}});
  }
  return {{"v", kRecordVersion},
          {"kind", "prepare"},
          {"identity", p.identity},
          {"instance_token", p.instance_token},
          {"photos", photos},
          {"settings",
           {{"crop_ratio", p.crop_ratio},
            {"resolution", p.resolution},
            {"caption_template", p.caption_template},
            {"pick_largest", p.pick_largest}}}};
}

Json ToJson(const TrainParams& p) {
  std::vector<int> steps = p.save_steps;
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  return {{"v", kRecordVersion},
          {"kind", "train"},
          {"identity", p.identity},
          {"photos", p.photos_sha256},
          {"instance_token", p.instance_token},
          {"checkpoint", p.checkpoint_sha256},
          {"save_steps", steps},
          {"rank", p.rank},
          {"alpha", p.alpha},
          {"learning_rate", p.learning_rate},
          {"batch_size", p.batch_size},
          {"resolution", p.resolution},
          {"seed", p.seed},
          {"ranks", p.ranks},
          {"extra", SettingsToJson(p.extra)},
          {"prepare_param_hash", p.prepare_param_hash}};
}

Json ToJson(const ScoreParams& p) {
  return {{"v", kRecordVersion},
          {"kind", "score"},
          {"render", p.render_param_hash},
          {"identity", p.identity},
          {"photos", p.photos_sha256},
          {"metric", p.metric}};
}

StatusOr<std::string> Canonical(const Json& json) {
  std::string out;
  FARM_RETURN_IF_ERROR(AppendCanonical(out, json));
  return out;
}

template <typename Record>
StatusOr<std::string> HashOf(const Record& record) {
  FARM_ASSIGN_OR_RETURN(std::string canonical, ToCanonicalJson(record));
  return Sha256Hex(canonical);
}

// Reads one field with a type check; the error names the field.
template <typename T>
Status Read(const Json& json, const char* field, T& out) {
  const auto it = json.find(field);
  if (it == json.end()) return InvalidArgument(std::string("missing field '") + field + "'");
  try {
    out = it->get<T>();
  } catch (const Json::exception& e) {
    return InvalidArgument(std::string("field '") + field + "': " + e.what());
  }
  return Status::Ok();
}

StatusOr<SettingValue> SettingFromJson(const Json& value) {
  if (value.is_boolean()) return SettingValue(value.get<bool>());
  if (value.is_number_integer()) return SettingValue(value.get<std::int64_t>());
  if (value.is_number_float()) return SettingValue(value.get<double>());
  if (value.is_string()) return SettingValue(value.get<std::string>());
  return InvalidArgument("setting values are booleans, numbers or strings");
}

Status ReadStages(const Json& json, std::vector<StageSettings>& out) {
  const auto it = json.find("stages");
  if (it == json.end() || !it->is_array()) return InvalidArgument("field 'stages' must be an array");
  for (const Json& stage_json : *it) {
    StageSettings stage;
    FARM_RETURN_IF_ERROR(Read(stage_json, "kind", stage.kind).WithContext("stages"));
    const auto settings = stage_json.find("settings");
    if (settings == stage_json.end() || !settings->is_object()) {
      return InvalidArgument("stage '" + stage.kind + "': 'settings' must be an object");
    }
    for (const auto& [key, value] : settings->items()) {
      auto setting = SettingFromJson(value);
      if (!setting.ok()) return setting.status().WithContext("stage '" + stage.kind + "' setting '" + key + "'");
      stage.settings.emplace(key, std::move(setting).value());
    }
    out.push_back(std::move(stage));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::string> ToCanonicalJson(const RenderParams& params) { return Canonical(ToJson(params)); }
StatusOr<std::string> ToCanonicalJson(const PrepareParams& params) { return Canonical(ToJson(params)); }
StatusOr<std::string> ToCanonicalJson(const TrainParams& params) { return Canonical(ToJson(params)); }
StatusOr<std::string> ToCanonicalJson(const ScoreParams& params) { return Canonical(ToJson(params)); }

StatusOr<std::string> ParamHash(const RenderParams& params) { return HashOf(params); }
StatusOr<std::string> ParamHash(const PrepareParams& params) { return HashOf(params); }
StatusOr<std::string> ParamHash(const TrainParams& params) { return HashOf(params); }
StatusOr<std::string> ParamHash(const ScoreParams& params) { return HashOf(params); }

StatusOr<RenderParams> RenderParamsFromJson(std::string_view json_text) {
  const Json json = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return InvalidArgument("render record: not a JSON object");
  }
  int version = 0;
  std::string kind;
  FARM_RETURN_IF_ERROR(Read(json, "v", version));
  if (version != kRecordVersion) {
    return InvalidArgument("render record: version " + std::to_string(version) +
                           " is not supported (this binary reads version " +
                           std::to_string(kRecordVersion) + ")");
  }
  FARM_RETURN_IF_ERROR(Read(json, "kind", kind));
  if (kind != "render") return InvalidArgument("record kind is '" + kind + "', expected 'render'");

  RenderParams p;
  FARM_RETURN_IF_ERROR(Read(json, "prompt", p.prompt));
  FARM_RETURN_IF_ERROR(Read(json, "negative_prompt", p.negative_prompt));
  FARM_RETURN_IF_ERROR(Read(json, "seed", p.seed));
  FARM_RETURN_IF_ERROR(Read(json, "sampler", p.sampler));
  FARM_RETURN_IF_ERROR(Read(json, "scheduler", p.scheduler));
  FARM_RETURN_IF_ERROR(Read(json, "steps", p.steps));
  FARM_RETURN_IF_ERROR(Read(json, "cfg", p.cfg));
  FARM_RETURN_IF_ERROR(Read(json, "clip_skip", p.clip_skip));
  FARM_RETURN_IF_ERROR(Read(json, "width", p.width));
  FARM_RETURN_IF_ERROR(Read(json, "height", p.height));
  FARM_RETURN_IF_ERROR(Read(json, "pose", p.pose));
  FARM_RETURN_IF_ERROR(Read(json, "tone", p.tone));
  FARM_RETURN_IF_ERROR(Read(json, "denoise", p.denoise));
  FARM_RETURN_IF_ERROR(Read(json, "checkpoint", p.checkpoint_sha256));
  FARM_RETURN_IF_ERROR(Read(json, "engine", p.engine));
  FARM_RETURN_IF_ERROR(Read(json, "rng", p.rng));
  if (json.contains("vae")) {
    FARM_RETURN_IF_ERROR(Read(json, "vae", p.vae_sha256));
    if (p.vae_sha256.empty()) return InvalidArgument("field 'vae': empty (omit the field for the checkpoint's VAE)");
  }
  if (json.contains("embeddings")) {
    FARM_RETURN_IF_ERROR(Read(json, "embeddings", p.embeddings));
    // An empty map would be a second spelling of "no embeddings" with another hash.
    if (p.embeddings.empty()) return InvalidArgument("field 'embeddings': empty (omit the field when there are none)");
    for (const auto& [name, sha256] : p.embeddings) {
      if (name.empty() || sha256.empty()) {
        return InvalidArgument("field 'embeddings': every entry needs a name and a SHA-256");
      }
    }
  }

  const auto loras = json.find("loras");
  if (loras == json.end() || !loras->is_array()) return InvalidArgument("field 'loras' must be an array");
  for (const Json& lora_json : *loras) {
    LoraRef lora;
    FARM_RETURN_IF_ERROR(Read(lora_json, "ref", lora.ref).WithContext("loras"));
    FARM_RETURN_IF_ERROR(Read(lora_json, "weight", lora.weight).WithContext("loras"));
    p.loras.push_back(std::move(lora));
  }
  const auto controlnets = json.find("controlnets");
  if (controlnets == json.end() || !controlnets->is_array()) {
    return InvalidArgument("field 'controlnets' must be an array");
  }
  for (const Json& unit_json : *controlnets) {
    ControlNetUnit unit;
    FARM_RETURN_IF_ERROR(Read(unit_json, "model", unit.model_sha256).WithContext("controlnets"));
    FARM_RETURN_IF_ERROR(Read(unit_json, "input", unit.input).WithContext("controlnets"));
    FARM_RETURN_IF_ERROR(Read(unit_json, "weight", unit.weight).WithContext("controlnets"));
    FARM_RETURN_IF_ERROR(Read(unit_json, "start", unit.guidance_start).WithContext("controlnets"));
    FARM_RETURN_IF_ERROR(Read(unit_json, "end", unit.guidance_end).WithContext("controlnets"));
    p.controlnets.push_back(std::move(unit));
  }
  FARM_RETURN_IF_ERROR(ReadStages(json, p.stages));
  return p;
}

StatusOr<PrepareParams> PrepareParamsFromJson(std::string_view json_text) {
  const Json json = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return InvalidArgument("prepare record: not a JSON object");
  }
  int version = 0;
  std::string kind;
  FARM_RETURN_IF_ERROR(Read(json, "v", version));
  if (version != kRecordVersion) {
    return InvalidArgument("prepare record: version " + std::to_string(version) +
                           " is not supported (this binary reads version " +
                           std::to_string(kRecordVersion) + ")");
  }
  FARM_RETURN_IF_ERROR(Read(json, "kind", kind));
  if (kind != "prepare") return InvalidArgument("record kind is '" + kind + "', expected 'prepare'");
  PrepareParams p;
  FARM_RETURN_IF_ERROR(Read(json, "identity", p.identity));
  FARM_RETURN_IF_ERROR(Read(json, "instance_token", p.instance_token));
  const auto photos = json.find("photos");
  if (photos == json.end() || !photos->is_array()) return InvalidArgument("field 'photos' must be an array");
  for (const Json& photo_json : *photos) {
    PreparePhoto photo;
    FARM_RETURN_IF_ERROR(Read(photo_json, "path", photo.path).WithContext("photos"));
    FARM_RETURN_IF_ERROR(Read(photo_json, "sha256", photo.sha256).WithContext("photos"));
    p.photos.push_back(std::move(photo));
  }
  const auto settings = json.find("settings");
  if (settings == json.end() || !settings->is_object()) {
    return InvalidArgument("field 'settings' must be an object");
  }
  FARM_RETURN_IF_ERROR(Read(*settings, "crop_ratio", p.crop_ratio).WithContext("settings"));
  FARM_RETURN_IF_ERROR(Read(*settings, "resolution", p.resolution).WithContext("settings"));
  FARM_RETURN_IF_ERROR(Read(*settings, "caption_template", p.caption_template).WithContext("settings"));
  FARM_RETURN_IF_ERROR(Read(*settings, "pick_largest", p.pick_largest).WithContext("settings"));
  return p;
}

std::string PhotoSetDigest(std::vector<std::string> photo_sha256s) {
  std::sort(photo_sha256s.begin(), photo_sha256s.end());
  std::string joined;
  for (std::size_t i = 0; i < photo_sha256s.size(); ++i) {
    if (i > 0) joined.push_back('\n');
    joined += photo_sha256s[i];
  }
  return Sha256Hex(joined);
}

}  // namespace farm
