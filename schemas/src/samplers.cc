#include "farm/schemas/samplers.h"

#include <array>

namespace farm {
namespace {

// The engine's samplers and the schedules each supports. DDIM has its own timestep
// schedule and is offered only as plain "DDIM".
struct SamplerEntry {
  const char* sampler;
  bool karras;
};
constexpr std::array<SamplerEntry, 5> kSamplers = {{
    {"Euler", true},
    {"Euler a", true},
    {"DPM++ 2M", true},
    {"DPM++ SDE", true},
    {"DDIM", false},
}};

constexpr std::string_view kKarrasSuffix = " Karras";

}  // namespace

const std::vector<std::string>& KnownSamplerNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const SamplerEntry& entry : kSamplers) {
      names.emplace_back(entry.sampler);
      if (entry.karras) names.push_back(std::string(entry.sampler) + std::string(kKarrasSuffix));
    }
    return names;
  }();
  return kNames;
}

StatusOr<SamplerChoice> ParseSamplerName(std::string_view name) {
  for (const SamplerEntry& entry : kSamplers) {
    if (name == entry.sampler) return SamplerChoice{entry.sampler, "normal"};
    if (entry.karras && name.size() == std::string_view(entry.sampler).size() + kKarrasSuffix.size() &&
        name.starts_with(entry.sampler) && name.ends_with(kKarrasSuffix)) {
      return SamplerChoice{entry.sampler, "karras"};
    }
  }
  std::string known;
  for (const std::string& n : KnownSamplerNames()) {
    if (!known.empty()) known += ", ";
    known += "'" + n + "'";
  }
  return InvalidArgument("unknown sampler '" + std::string(name) + "'; expected one of " + known);
}

std::string FrontEndSamplerName(const SamplerChoice& choice) {
  if (choice.scheduler == "karras") return choice.sampler + std::string(kKarrasSuffix);
  return choice.sampler;
}

}  // namespace farm
