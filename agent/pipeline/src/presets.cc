// tones.yaml and pipelines.yaml readers (farm_configs/). yaml-cpp stays in this file.
#include <yaml-cpp/yaml.h>

#include <cmath>

#include "farm/pipeline/stages.h"

namespace farm::pipeline {
namespace {

StatusOr<YAML::Node> LoadYaml(const std::string& path) {
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return NotFound(path + ": cannot read");
  } catch (const std::exception& e) {
    return InvalidArgument(path + ": " + e.what());
  }
}

StatusOr<YAML::Node> TonePreset(const std::string& tones_yaml, const std::string& name) {
  FARM_ASSIGN_OR_RETURN(YAML::Node root, LoadYaml(tones_yaml));
  try {
    YAML::Node tones = root["tones"];
    if (!tones || !tones.IsMap()) return InvalidArgument(tones_yaml + ": no 'tones' map");
    YAML::Node tone = tones[name];
    if (!tone) {
      std::string names;
      for (const auto& item : tones) names += (names.empty() ? "" : ", ") + item.first.as<std::string>();
      return NotFound(tones_yaml + ": unknown tone '" + name + "'; expected one of: " + names);
    }
    return tone;
  } catch (const std::exception& e) {
    return InvalidArgument(tones_yaml + ": tones." + name + ": " + e.what());
  }
}

// A YAML scalar typed as the sweep types settings.
farm::SettingValue ScalarValue(const YAML::Node& node) {
  const std::string text = node.Scalar();
  if (node.Tag() != "!") {  // not quoted
    if (text == "true") return true;
    if (text == "false") return false;
    try {
      size_t used = 0;
      long long i = std::stoll(text, &used);
      if (used == text.size()) return static_cast<std::int64_t>(i);
    } catch (const std::exception&) {
    }
    try {
      size_t used = 0;
      double d = std::stod(text, &used);
      if (used == text.size() && std::isfinite(d)) return d;
    } catch (const std::exception&) {
    }
  }
  return text;
}

}  // namespace

StatusOr<farm::image::ToneGrade> LoadToneGrade(const std::string& tones_yaml, const std::string& name) {
  FARM_ASSIGN_OR_RETURN(YAML::Node tone, TonePreset(tones_yaml, name));
  try {
    farm::image::ToneGrade grade;
    YAML::Node g = tone["grade"];
    if (!g) return grade;
    if (g["white_balance_shift"]) grade.white_balance_shift = g["white_balance_shift"].as<double>();
    if (g["saturation"]) grade.saturation = g["saturation"].as<double>();
    if (g["contrast"]) grade.contrast = g["contrast"].as<double>();
    if (g["strength"]) grade.strength = g["strength"].as<double>();
    FARM_RETURN_IF_ERROR(farm::image::ValidateToneGrade(grade).WithContext(tones_yaml + ": tones." + name));
    return grade;
  } catch (const std::exception& e) {
    return InvalidArgument(tones_yaml + ": tones." + name + ".grade: " + e.what());
  }
}

StatusOr<std::string> LoadTonePrompt(const std::string& tones_yaml, const std::string& name) {
  FARM_ASSIGN_OR_RETURN(YAML::Node tone, TonePreset(tones_yaml, name));
  try {
    return tone["prompt"] ? tone["prompt"].as<std::string>() : std::string();
  } catch (const std::exception& e) {
    return InvalidArgument(tones_yaml + ": tones." + name + ".prompt: " + e.what());
  }
}

StatusOr<std::vector<farm::StageSettings>> LoadPipelinePreset(const std::string& pipelines_yaml,
                                                              const std::string& name) {
  FARM_ASSIGN_OR_RETURN(YAML::Node root, LoadYaml(pipelines_yaml));
  try {
    YAML::Node presets = root["pipelines"];
    if (!presets || !presets.IsMap()) return InvalidArgument(pipelines_yaml + ": no 'pipelines' map");
    YAML::Node preset = presets[name];
    if (!preset) return NotFound(pipelines_yaml + ": unknown pipeline '" + name + "'");
    if (!preset.IsSequence()) return InvalidArgument(pipelines_yaml + ": pipelines." + name + ": expected a list");
    std::vector<farm::StageSettings> stages;
    for (size_t i = 0; i < preset.size(); ++i) {
      const std::string where = pipelines_yaml + ": pipelines." + name + "[" + std::to_string(i) + "]";
      farm::StageSettings stage;
      if (!preset[i]["stage"]) return InvalidArgument(where + ": no 'stage'");
      stage.kind = preset[i]["stage"].as<std::string>();
      if (YAML::Node settings = preset[i]["settings"]) {
        if (!settings.IsMap()) return InvalidArgument(where + ".settings: expected a map");
        for (const auto& item : settings) {
          if (!item.second.IsScalar()) {
            return InvalidArgument(where + ".settings." + item.first.as<std::string>() + ": expected a scalar");
          }
          stage.settings[item.first.as<std::string>()] = ScalarValue(item.second);
        }
      }
      stages.push_back(std::move(stage));
    }
    return stages;
  } catch (const std::exception& e) {
    return InvalidArgument(pipelines_yaml + ": pipelines." + name + ": " + e.what());
  }
}

}  // namespace farm::pipeline
