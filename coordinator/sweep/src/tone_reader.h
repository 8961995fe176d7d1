// Reading tone entries, shared by the preset file and a spec's inline `tones:`.
#pragma once

#include <optional>
#include <string>

#include "farm/sweep/presets.h"
#include "yaml_reader.h"

namespace farm::sweep {

// Reads `{prompt, samplers, grade: {white_balance_shift, saturation, contrast,
// strength}}`. With a `base`, fields left out keep the base's values (a spec overriding
// a preset); without one, `prompt` is required.
std::optional<TonePreset> ReadTone(const YAML::Node& node, const std::string& path,
                                   const TonePreset* base, DiagnosticSink& sink);

// Reads a mapping of tone name -> entry, merging over `base` (which may be empty).
std::optional<TonePresets> ReadTones(const YAML::Node& node, const std::string& path,
                                     const TonePresets& base, DiagnosticSink& sink);

}  // namespace farm::sweep
