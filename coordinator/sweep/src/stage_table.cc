#include "stage_table.h"

#include <algorithm>

#include "suggest.h"

namespace farm::sweep {
namespace {

enum class SettingType { kInt, kNumber, kString };

struct SettingInfo {
  std::string name;
  SettingType type;
  Range range;                       // numbers
  std::vector<std::string> choices;  // strings; empty = free text
};

struct StageInfo {
  std::string kind;
  std::vector<SettingInfo> settings;
};

const std::vector<StageInfo>& Stages() {
  static const std::vector<StageInfo> kStages = {
      {"detailer",
       {{"target", SettingType::kString, {}, {"face", "hands", "person"}},
        {"denoise", SettingType::kNumber, {0, 1, true}, {}},
        {"padding", SettingType::kInt, {0, 512}, {}},
        {"feather", SettingType::kInt, {0, 256}, {}},
        {"resolution", SettingType::kInt, {64, 2048}, {}},
        {"steps", SettingType::kInt, {1, 150}, {}},
        {"confidence", SettingType::kNumber, {0, 1}, {}},
        {"prompt", SettingType::kString, {}, {}}}},
      {"img2img",
       {{"denoise", SettingType::kNumber, {0, 1, true}, {}},
        {"steps", SettingType::kInt, {1, 150}, {}},
        {"cfg", SettingType::kNumber, {1, 30}, {}},
        {"prompt", SettingType::kString, {}, {}}}},
      {"upscale",
       {{"scale", SettingType::kNumber, {1, 4, true}, {}},
        {"mode", SettingType::kString, {}, {"resize", "tiled"}},
        {"tile_size", SettingType::kInt, {64, 2048}, {}},
        {"overlap", SettingType::kInt, {0, 512}, {}},
        {"denoise", SettingType::kNumber, {0, 1, true}, {}},
        {"controlnet_weight", SettingType::kNumber, {0, 2}, {}}}},
      {"tone",
       {{"white_balance_shift", SettingType::kNumber, {-5000, 5000}, {}},
        {"saturation", SettingType::kNumber, {0, 3}, {}},
        {"contrast", SettingType::kNumber, {0, 3}, {}},
        {"strength", SettingType::kNumber, {0, 1}, {}}}},
  };
  return kStages;
}

const StageInfo* FindStage(const std::string& kind) {
  for (const StageInfo& info : Stages()) {
    if (info.kind == kind) return &info;
  }
  return nullptr;
}

std::optional<SettingValue> ReadSetting(const SettingInfo& info, const YAML::Node& node,
                                        const std::string& path, DiagnosticSink& sink) {
  switch (info.type) {
    case SettingType::kInt:
      if (auto v = ReadInt(node, path, info.range, sink)) return SettingValue(*v);
      return std::nullopt;
    case SettingType::kNumber:
      if (auto v = ReadNumber(node, path, info.range, sink)) return SettingValue(*v);
      return std::nullopt;
    case SettingType::kString: {
      auto text = ReadString(node, path, /*allow_empty=*/info.choices.empty(), sink);
      if (!text) return std::nullopt;
      if (!info.choices.empty() &&
          std::find(info.choices.begin(), info.choices.end(), *text) == info.choices.end()) {
        sink.Add(node, path,
                 "unknown value '" + *text + "'; expected one of: " + JoinNames(info.choices) +
                     DidYouMean(*text, info.choices));
        return std::nullopt;
      }
      return SettingValue(*text);
    }
  }
  return std::nullopt;
}

}  // namespace

const std::vector<std::string>& StageKindNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const StageInfo& info : Stages()) names.push_back(info.kind);
    return names;
  }();
  return kNames;
}

std::optional<StageSettings> ReadStage(const YAML::Node& node, const std::string& path,
                                       DiagnosticSink& sink) {
  std::size_t errors_before = sink.size();
  auto entries = ReadMap(node, path, {"stage", "settings"}, sink);
  if (!entries) return std::nullopt;
  const MapEntry* kind_entry = FindEntry(*entries, "stage");
  if (kind_entry == nullptr) {
    ReportMissing(node, KeyPath(path, "stage"), "a stage kind: " + JoinNames(StageKindNames()),
                  sink);
    return std::nullopt;
  }
  auto kind = ReadString(kind_entry->value, kind_entry->path, false, sink);
  if (!kind) return std::nullopt;
  const StageInfo* info = FindStage(*kind);
  if (info == nullptr) {
    sink.Add(kind_entry->value, kind_entry->path,
             "unknown stage kind '" + *kind + "'; expected one of: " + JoinNames(StageKindNames()) +
                 DidYouMean(*kind, StageKindNames()));
    return std::nullopt;
  }
  StageSettings stage;
  stage.kind = *kind;
  if (const MapEntry* settings = FindEntry(*entries, "settings")) {
    std::vector<std::string> known;
    for (const SettingInfo& s : info->settings) known.push_back(s.name);
    auto items = ReadMap(settings->value, settings->path, known, sink);
    if (items) {
      for (const MapEntry& item : *items) {
        const SettingInfo& setting =
            *std::find_if(info->settings.begin(), info->settings.end(),
                          [&](const SettingInfo& s) { return s.name == item.key; });
        if (auto value = ReadSetting(setting, item.value, item.path, sink)) {
          stage.settings[item.key] = *value;
        }
      }
    }
  }
  if (sink.size() != errors_before) return std::nullopt;
  return stage;
}

std::optional<std::vector<StageSettings>> ReadPipeline(const YAML::Node& node,
                                                       const std::string& path,
                                                       const PipelinePresets& presets,
                                                       DiagnosticSink& sink) {
  if (node.IsScalar()) {
    const std::string& name = node.Scalar();
    auto it = presets.find(name);
    if (it == presets.end()) {
      std::vector<std::string> names;
      for (const auto& [preset_name, stages] : presets) names.push_back(preset_name);
      sink.Add(node, path,
               "unknown pipeline preset '" + name + "'; expected one of: " + JoinNames(names) +
                   " or a list of stages" + DidYouMean(name, names));
      return std::nullopt;
    }
    return it->second;
  }
  auto items = ReadList(node, path, /*allow_scalar=*/false, /*allow_empty=*/true, sink);
  if (!items) return std::nullopt;
  std::vector<StageSettings> stages;
  bool ok = true;
  for (const ListItem& item : *items) {
    auto stage = ReadStage(item.node, item.path, sink);
    if (stage) {
      stages.push_back(std::move(*stage));
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return stages;
}

}  // namespace farm::sweep
