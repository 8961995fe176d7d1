// What the scheduler is told about jobs and agents.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "farm/scheduler/types.h"
#include "farm/schemas/status.h"

namespace farm::scheduler {

// A job to schedule. farmd builds it from the store's job row and its parameter record.
struct JobSpec {
  JobId id = 0;          // > 0 and unique: the store's jobs.id
  SweepId sweep_id = 0;  // 0: belongs to no sweep
  JobKind kind = JobKind::kSynthetic;
  int priority = 0;  // the sweep's priority; higher runs first, then submission order

  // Canonical record hash. Required for kRender: renders with the same param_hash are
  // deduplicated unless `force` is set.
  std::string param_hash;
  bool force = false;

  // Capabilities an agent needs. Unset device: any (CPU agents are tried first, keeping
  // GPUs free for work only they can do).
  std::optional<DeviceKind> device;
  std::uint64_t min_device_memory_bytes = 0;
  // SHA-256 of model files the job reads. Agents that already cache them are preferred;
  // agents that cannot fetch models (AgentSpec::can_fetch_models) must cache them all.
  std::vector<std::string> required_models;

  // Slots needed at once (training ranks). All are reserved together or none is; the
  // ranks may be spread over several agents of one device kind.
  int gang_size = 1;

  // Parents that must all succeed before this job may run. When one fails, is cancelled
  // or is skipped, this job and its descendants are skipped.
  std::vector<JobId> deps;
};

// An agent's registration: farm.proto's Register.capabilities.
struct AgentSpec {
  AgentId id;  // non-empty; stable across restarts of the same agent
  DeviceKind device = DeviceKind::kCpu;
  std::uint64_t device_memory_bytes = 0;
  int slots = 1;                           // jobs (gang ranks) it runs at once, >= 1
  std::vector<std::string> cached_models;  // SHA-256 of models on its disk or in memory
  std::vector<JobKind> job_kinds;          // empty: every kind
  // false: the agent cannot download models (e.g. an offline host) and only gets jobs
  // whose required models it already caches.
  bool can_fetch_models = true;
};

// InvalidArgument naming the bad field: id <= 0, negative sweep id, gang_size < 1,
// a render without param_hash, a job that depends on itself, an empty model hash.
Status ValidateJobSpec(const JobSpec& spec);

// InvalidArgument for an empty id, slots < 1 or an empty model hash.
Status ValidateAgentSpec(const AgentSpec& spec);

}  // namespace farm::scheduler
