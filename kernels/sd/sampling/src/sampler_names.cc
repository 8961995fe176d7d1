#include "farm/sd/sampler_names.h"

#include <array>

namespace farm::sd {
namespace {

struct SamplerEntry {
  SamplerKind kind;
  const char* name;
  bool karras;  // offered with " Karras"
};
constexpr std::array<SamplerEntry, 5> kSamplers = {{
    {SamplerKind::kEuler, "Euler", true},
    {SamplerKind::kEulerAncestral, "Euler a", true},
    {SamplerKind::kDpmpp2M, "DPM++ 2M", true},
    {SamplerKind::kDpmppSde, "DPM++ SDE", true},
    {SamplerKind::kDdim, "DDIM", false},
}};

constexpr std::string_view kKarrasSuffix = " Karras";

const SamplerEntry& EntryFor(SamplerKind kind) {
  for (const SamplerEntry& entry : kSamplers) {
    if (entry.kind == kind) return entry;
  }
  return kSamplers[0];
}

}  // namespace

const char* SamplerKindName(SamplerKind kind) { return EntryFor(kind).name; }

const std::vector<std::string>& KnownSamplerSpecNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const SamplerEntry& entry : kSamplers) {
      names.emplace_back(entry.name);
      if (entry.karras) names.push_back(std::string(entry.name) + std::string(kKarrasSuffix));
    }
    return names;
  }();
  return kNames;
}

StatusOr<SamplerSpec> ParseSamplerSpec(std::string_view name) {
  for (const SamplerEntry& entry : kSamplers) {
    const std::string_view base = entry.name;
    if (name == base) return SamplerSpec{entry.kind, ScheduleKind::kNormal};
    if (entry.karras && name.size() == base.size() + kKarrasSuffix.size() &&
        name.starts_with(base) && name.ends_with(kKarrasSuffix)) {
      return SamplerSpec{entry.kind, ScheduleKind::kKarras};
    }
  }
  std::string known;
  for (const std::string& n : KnownSamplerSpecNames()) {
    if (!known.empty()) known += ", ";
    known += "'" + n + "'";
  }
  return InvalidArgument("unknown sampler '" + std::string(name) + "'; expected one of " + known);
}

StatusOr<std::string> SamplerSpecName(const SamplerSpec& spec) {
  const SamplerEntry& entry = EntryFor(spec.sampler);
  if (spec.schedule == ScheduleKind::kNormal) return std::string(entry.name);
  if (!entry.karras) {
    return InvalidArgument(std::string(entry.name) + " has no Karras schedule");
  }
  return std::string(entry.name) + std::string(kKarrasSuffix);
}

}  // namespace farm::sd
