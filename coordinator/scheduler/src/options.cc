#include "farm/scheduler/options.h"

#include <limits>
#include <string>

namespace farm::scheduler {

Status ValidateOptions(const SchedulerOptions& o) {
  auto bad = [](const std::string& field, long long value, const char* want) {
    return InvalidArgument("scheduler option " + field + " = " + std::to_string(value) +
                           ": must be " + want);
  };
  if (o.heartbeat_interval_ms <= 0) {
    return bad("heartbeat_interval_ms", o.heartbeat_interval_ms, "> 0");
  }
  if (o.heartbeat_liveness < 1) return bad("heartbeat_liveness", o.heartbeat_liveness, ">= 1");
  if (o.heartbeat_interval_ms > std::numeric_limits<TimeMs>::max() / 4 / o.heartbeat_liveness) {
    return bad("heartbeat_interval_ms", o.heartbeat_interval_ms,
               "small enough that interval x liveness fits in 64 bits");
  }
  if (o.lease_timeout_ms <= 0) return bad("lease_timeout_ms", o.lease_timeout_ms, "> 0");
  if (o.max_distinct_agent_failures < 1) {
    return bad("max_distinct_agent_failures", o.max_distinct_agent_failures, ">= 1");
  }
  if (o.max_attempts < 0) return bad("max_attempts", o.max_attempts, ">= 0 (0 = unlimited)");
  if (o.restore_grace_ms < 0) return bad("restore_grace_ms", o.restore_grace_ms, ">= 0");
  if (o.gang_replan_ms <= 0) return bad("gang_replan_ms", o.gang_replan_ms, "> 0");
  return Status::Ok();
}

TimeMs LivenessTimeoutMs(const SchedulerOptions& options) {
  return options.heartbeat_interval_ms * options.heartbeat_liveness;
}

}  // namespace farm::scheduler
