// Vocabulary of the scheduler: ids, job and agent states, attempt outcomes.
//
// Ids are the store's: a job id is the jobs.id rowid (> 0), a sweep id the sweeps.id
// rowid (0 = no sweep), an agent id the string the agent announces in Register. Times are
// milliseconds since the Unix epoch as read from the injected Clock (clock.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace farm::scheduler {

using JobId = std::int64_t;
using SweepId = std::int64_t;
using AgentId = std::string;
using TimeMs = std::int64_t;

enum class DeviceKind { kCpu, kCuda };
inline constexpr int kDeviceKindCount = 2;

// Mirrors farm.proto's JobKind. Agents may restrict the kinds they run; only kRender
// jobs are deduplicated by param_hash (see Scheduler).
enum class JobKind { kPrepare, kTrain, kValidate, kRender, kScore, kSynthetic };
inline constexpr int kJobKindCount = 6;

// A job's state inside the scheduler. kBlocked (parents not yet succeeded) is stored as
// "queued" in the database; the others map one to one onto jobs.state.
enum class JobState { kBlocked, kQueued, kLeased, kSucceeded, kFailed, kCancelled, kSkipped };
inline constexpr int kJobStateCount = 7;

// True for succeeded, failed, cancelled and skipped: states a job never leaves.
bool IsTerminal(JobState state);

// How one attempt (lease) ended. The store's attempts.outcome has no kReleased or
// kAgentLost: farmd writes both as "expired".
enum class AttemptOutcome {
  kSucceeded,  // the holder reported success
  kFailed,     // the holder reported failure; the agent is excluded from the job
  kReleased,   // the holder gave the job back unrun (shutdown) or stopped it on its own
  kCancelled,  // the holder confirmed a cancel (the job was cancelled or skipped)
  kExpired,    // the lease deadline passed without progress or heartbeat from the holder
  kAgentLost,  // a holder was declared dead, re-registered, deregistered or never came back
};

enum class AgentState {
  kOnline,             // registered and heartbeating; gets work
  kDraining,           // heartbeating, keeps its leases, gets no new work
  kAwaitingReconnect,  // named by a restored lease; has restore_grace_ms to register
  kOffline,            // deregistered, or never registered (only known by id)
  kLost,               // declared dead (silence, or no reconnect after a restore)
};

// Stable lower-case names ("blocked", "agent_lost", "cuda", ...) for logs and JSON.
const char* Name(DeviceKind value);
const char* Name(JobKind value);
const char* Name(JobState value);
const char* Name(AttemptOutcome value);
const char* Name(AgentState value);

// One dispatch of a job: farm.proto's LeaseRef. Attempts are numbered from 1.
struct LeaseRef {
  JobId job = 0;
  int attempt = 0;
  bool operator==(const LeaseRef&) const = default;
};

// History of one attempt, kept for every attempt of a job (JobInfo, Restore).
struct AttemptRecord {
  int attempt = 0;
  std::vector<AgentId> agents;  // holders in rank order (one per gang slot)
  TimeMs leased_at_ms = 0;
  TimeMs deadline_ms = 0;                 // the last deadline the lease had
  std::optional<AttemptOutcome> outcome;  // unset while the lease is open
  std::string error;                      // the holder's error, or why the lease ended
  AgentId reported_by;                    // whose result was accepted; empty when none was
  bool result_accepted = false;
};

// Number of jobs in each state, indexed by JobState.
struct StateCounts {
  std::array<std::size_t, kJobStateCount> by_state{};
  std::size_t operator[](JobState state) const;
  std::size_t total() const;
};

}  // namespace farm::scheduler
