// YAML sweep spec -> validated SweepSpec. The format is documented in docs/sweep-spec.md.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sweep/diagnostic.h"
#include "farm/sweep/presets.h"
#include "farm/sweep/spec.h"

namespace farm::sweep {

struct SpecCheck {
  std::optional<SweepSpec> spec;        // set only when diagnostics is empty
  std::vector<Diagnostic> diagnostics;  // every problem found, by line then column
};

// Validates a spec and reports every problem at once. Never throws; reads no files
// (`file_name` is only used in messages and stored in the spec). Presets are what
// `tone` values and `pipeline: <name>` refer to.
SpecCheck CheckSweepSpec(std::string_view yaml, std::string_view file_name,
                         const SpecPresets& presets);

// As CheckSweepSpec; an invalid spec gives InvalidArgument with one diagnostic a line.
StatusOr<SweepSpec> ParseSweepSpec(std::string_view yaml, std::string_view file_name,
                                   const SpecPresets& presets);

}  // namespace farm::sweep
