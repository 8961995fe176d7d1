#include "farm/sweep/presets.h"

#include "stage_table.h"
#include "tone_reader.h"
#include "yaml_reader.h"

namespace farm::sweep {
namespace {

// Loads the document and returns the value under its single top-level `key`.
std::optional<MapEntry> TopLevel(std::string_view yaml, const std::string& key,
                                 DiagnosticSink& sink) {
  auto root = LoadDocument(yaml, sink);
  if (!root) return std::nullopt;
  auto entries = ReadMap(*root, "", {key}, sink);
  if (!entries) return std::nullopt;
  const MapEntry* entry = FindEntry(*entries, key);
  if (entry == nullptr) {
    ReportMissing(*root, key, "a mapping '" + key + ":' at the top level", sink);
    return std::nullopt;
  }
  return *entry;
}

}  // namespace

std::vector<Diagnostic> CheckTonePresets(std::string_view yaml, std::string_view file_name,
                                         TonePresets* out) {
  DiagnosticSink sink{std::string(file_name)};
  try {
    if (auto top = TopLevel(yaml, "tones", sink)) {
      auto tones = ReadTones(top->value, top->path, {}, sink);
      if (tones && sink.size() == 0) *out = std::move(*tones);
    }
  } catch (const YAML::Exception& e) {
    sink.Add(e.mark, "", "YAML error: " + e.msg);
  }
  return sink.Take();
}

StatusOr<TonePresets> ParseTonePresets(std::string_view yaml, std::string_view file_name) {
  TonePresets tones;
  FARM_RETURN_IF_ERROR(DiagnosticsToStatus(CheckTonePresets(yaml, file_name, &tones)));
  return tones;
}

std::vector<Diagnostic> CheckPipelinePresets(std::string_view yaml, std::string_view file_name,
                                             PipelinePresets* out) {
  DiagnosticSink sink{std::string(file_name)};
  try {
    if (auto top = TopLevel(yaml, "pipelines", sink)) {
      PipelinePresets presets;
      if (auto entries = ReadMap(top->value, top->path, {}, sink)) {
        for (const MapEntry& e : *entries) {
          // A preset cannot name another preset: pass none.
          if (auto stages = ReadPipeline(e.value, e.path, {}, sink)) presets[e.key] = *stages;
        }
      }
      if (sink.size() == 0) *out = std::move(presets);
    }
  } catch (const YAML::Exception& e) {
    sink.Add(e.mark, "", "YAML error: " + e.msg);
  }
  return sink.Take();
}

StatusOr<PipelinePresets> ParsePipelinePresets(std::string_view yaml, std::string_view file_name) {
  PipelinePresets presets;
  FARM_RETURN_IF_ERROR(DiagnosticsToStatus(CheckPipelinePresets(yaml, file_name, &presets)));
  return presets;
}

}  // namespace farm::sweep
