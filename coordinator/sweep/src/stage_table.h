// Pipeline stages after txt2img, the settings each accepts, and reading them from YAML.
// Settings are typed by this table (denoise: 1 is stored as the double 1.0) so that the
// same stage always hashes the same.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/sweep/presets.h"
#include "yaml_reader.h"

namespace farm::sweep {

// detailer, img2img, upscale, tone.
const std::vector<std::string>& StageKindNames();

// Reads one `{stage: kind, settings: {...}}` item.
std::optional<StageSettings> ReadStage(const YAML::Node& node, const std::string& path,
                                       DiagnosticSink& sink);

// Reads `pipeline:`: a list of stages, or the name of a preset in `presets`.
std::optional<std::vector<StageSettings>> ReadPipeline(const YAML::Node& node,
                                                       const std::string& path,
                                                       const PipelinePresets& presets,
                                                       DiagnosticSink& sink);

}  // namespace farm::sweep
