// The samplers and schedules of the engine, named as SD front ends name them
// ("Euler a", "DPM++ 2M Karras"). The names follow the farm's sampler list (sweep
// validation uses the same spelling); the kernels keep their own copy so they build
// with only libtorch.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::sd {

enum class SamplerKind { kEuler, kEulerAncestral, kDpmpp2M, kDpmppSde, kDdim };

// How the sigmas are spaced. DDIM has its own timestep spacing and takes only kNormal.
enum class ScheduleKind { kNormal, kKarras };

struct SamplerSpec {
  SamplerKind sampler = SamplerKind::kEuler;
  ScheduleKind schedule = ScheduleKind::kNormal;
};

// "DPM++ 2M Karras" -> {kDpmpp2M, kKarras}; "Euler a" -> {kEulerAncestral, kNormal}.
// Case-sensitive, as front ends are. InvalidArgument lists the known names.
StatusOr<SamplerSpec> ParseSamplerSpec(std::string_view name);

// The front-end name of a spec ("DPM++ 2M Karras"); InvalidArgument for DDIM Karras.
StatusOr<std::string> SamplerSpecName(const SamplerSpec& spec);

// The sampler's own name without the schedule suffix ("DPM++ 2M").
const char* SamplerKindName(SamplerKind kind);

// Every name ParseSamplerSpec accepts, in a stable order.
const std::vector<std::string>& KnownSamplerSpecNames();

}  // namespace farm::sd
