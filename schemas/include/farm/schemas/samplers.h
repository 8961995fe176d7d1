// Sampler names as users of Stable Diffusion front ends write them, mapped to the
// engine's (sampler, schedule) pair. Shared by sweep validation and the render engine.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"

namespace farm {

struct SamplerChoice {
  std::string sampler;    // "Euler", "Euler a", "DPM++ 2M", "DPM++ SDE", "DDIM"
  std::string scheduler;  // "normal" or "karras"
};

// Parses a front-end name: "DPM++ 2M Karras" -> {"DPM++ 2M", "karras"}, "Euler a" ->
// {"Euler a", "normal"}. Case-sensitive as front ends are. InvalidArgument lists the
// known names.
StatusOr<SamplerChoice> ParseSamplerName(std::string_view name);

// The front-end name of a choice ("DPM++ 2M Karras").
std::string FrontEndSamplerName(const SamplerChoice& choice);

// Every front-end name ParseSamplerName accepts, in a stable order.
const std::vector<std::string>& KnownSamplerNames();

}  // namespace farm
