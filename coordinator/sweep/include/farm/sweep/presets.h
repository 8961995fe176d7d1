// Tone and pipeline presets (farm_configs/tones.yaml, farm_configs/pipelines.yaml).
//
// The parsers take the file's text and name; reading the file is the caller's job
// (farmctl's main), so the library stays pure and testable.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/schemas/status.h"
#include "farm/sweep/diagnostic.h"

namespace farm::sweep {

// A colour tone: words for the prompt, the samplers that suit it, and the colour grade
// the `tone` pipeline stage applies.
struct TonePreset {
  std::string prompt;                 // substituted for {tone} in prompt templates
  std::vector<std::string> samplers;  // front-end names; used by `sampler: {by: tone}`
  // Colour grade, copied into the settings of the `tone` stage.
  double white_balance_shift = 0.0;  // kelvin-like; > 0 warmer (more orange), < 0 cooler
  double saturation = 1.0;           // multiplier, 1 = unchanged
  double contrast = 1.0;             // multiplier, 1 = unchanged
  double strength = 1.0;             // blend of graded over original, in [0, 1]
};

using TonePresets = std::map<std::string, TonePreset>;
using PipelinePresets = std::map<std::string, std::vector<StageSettings>>;

// Everything a spec may refer to by name.
struct SpecPresets {
  TonePresets tones;
  PipelinePresets pipelines;
};

// Parses `tones: {name: {prompt, samplers, grade: {...}}}`. On failure the status is
// InvalidArgument listing every problem (see diagnostic.h).
StatusOr<TonePresets> ParseTonePresets(std::string_view yaml, std::string_view file_name);
// Same, returning the diagnostics; `out` is only written when there are none.
std::vector<Diagnostic> CheckTonePresets(std::string_view yaml, std::string_view file_name,
                                         TonePresets* out);

// Parses `pipelines: {name: [{stage: kind, settings: {...}}, ...]}`; an empty list is
// a valid pipeline (txt2img only). Stage kinds and settings are checked as in specs.
StatusOr<PipelinePresets> ParsePipelinePresets(std::string_view yaml, std::string_view file_name);
std::vector<Diagnostic> CheckPipelinePresets(std::string_view yaml, std::string_view file_name,
                                             PipelinePresets* out);

}  // namespace farm::sweep
