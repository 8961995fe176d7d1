#include "farm/scheduler/specs.h"

#include <algorithm>
#include <string>

namespace farm::scheduler {

Status ValidateJobSpec(const JobSpec& spec) {
  const std::string where = "job " + std::to_string(spec.id);
  if (spec.id <= 0) return InvalidArgument(where + ": id must be > 0");
  if (spec.sweep_id < 0) return InvalidArgument(where + ": sweep_id must be >= 0");
  if (spec.gang_size < 1) {
    return InvalidArgument(where + ": gang_size " + std::to_string(spec.gang_size) +
                           " must be >= 1");
  }
  if (spec.kind == JobKind::kRender && spec.param_hash.empty()) {
    return InvalidArgument(where + ": a render needs its param_hash (the dedup key)");
  }
  if (std::find(spec.deps.begin(), spec.deps.end(), spec.id) != spec.deps.end()) {
    return InvalidArgument(where + ": depends on itself");
  }
  for (const std::string& model : spec.required_models) {
    if (model.empty()) return InvalidArgument(where + ": empty required model hash");
  }
  return Status::Ok();
}

Status ValidateAgentSpec(const AgentSpec& spec) {
  if (spec.id.empty()) return InvalidArgument("agent registration without an id");
  const std::string where = "agent '" + spec.id + "'";
  if (spec.slots < 1) {
    return InvalidArgument(where + ": slots " + std::to_string(spec.slots) + " must be >= 1");
  }
  for (const std::string& model : spec.cached_models) {
    if (model.empty()) return InvalidArgument(where + ": empty cached model hash");
  }
  return Status::Ok();
}

}  // namespace farm::scheduler
