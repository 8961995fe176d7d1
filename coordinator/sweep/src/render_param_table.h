// The render parameters a spec can fix (render:) or sweep (grid:), their types and the
// values each accepts. One table so that render: and grid: validate alike.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "farm/sweep/presets.h"
#include "farm/sweep/spec.h"
#include "yaml_reader.h"

namespace farm::sweep {

enum class ParamType { kInt, kNumber, kString };

struct ParamInfo {
  std::string name;
  ParamType type;
  Range range;           // numbers only
  std::string expected;  // strings only: what a valid value looks like
};

// tone, sampler, cfg, clip_skip, steps, size, pose, lora, lora_weight, denoise, prompt.
const std::vector<std::string>& RenderParamNames();
const ParamInfo* FindRenderParam(std::string_view name);

// Reads and checks one value: type, range, and the domain (known sampler, a tone of
// `spec.tones`, size WxH in multiples of 8, pose name, prompt placeholders, an entry of
// `spec.loras`; lora names are not checked while `spec.loras` is empty, as the spec's
// missing loras: section is reported once instead).
std::optional<GridValue> ReadRenderParamValue(const ParamInfo& info, const YAML::Node& node,
                                              const std::string& path, const SweepSpec& spec,
                                              DiagnosticSink& sink);

// "512x768" -> 512, 768; false unless both are multiples of 8 in [64, 2048].
bool ParseSize(std::string_view text, int* width, int* height);

}  // namespace farm::sweep
