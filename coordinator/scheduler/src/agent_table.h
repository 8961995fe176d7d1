// Every agent ever seen, its slots, and the indices the matcher searches.
//
// Agents get a dense handle on first sight (never reused, never removed), so job
// exclusions and leases refer to ints. An agent is "schedulable" when it is online with
// a free slot; only schedulable agents are in the free indices.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "farm/scheduler/specs.h"
#include "farm/scheduler/types.h"

namespace farm::scheduler {

struct AgentRecord {
  AgentId id;
  int handle = -1;
  AgentState state = AgentState::kOffline;
  DeviceKind device = DeviceKind::kCpu;
  std::uint64_t memory = 0;
  std::uint32_t kind_mask = ~0u;  // bit per JobKind it runs
  bool can_fetch_models = true;
  std::unordered_set<std::string> cached;
  std::vector<JobId> slot_jobs;  // one entry per slot; 0 = free
  int free_slots = 0;
  int reserved_slots = 0;  // of its slots, held for the gang reservation
  // It refused an offer as busy: no offers until its next heartbeat says what it holds.
  bool paused = false;
  TimeMs last_heard_ms = 0;
  TimeMs liveness_deadline_ms = 0;  // while online or draining
  // Leases restored for this agent while it is kAwaitingReconnect (no slots yet).
  std::vector<JobId> restored_jobs;
  TimeMs busy_slot_ms = 0;  // accrued up to accrued_at_ms
  TimeMs accrued_at_ms = 0;

  bool Runs(JobKind kind) const;
  bool Caches(const std::vector<std::string>& models) const;
  int busy_slots() const;
  // Distinct jobs holding one of its slots, plus restored ones; ascending.
  std::vector<JobId> Leases() const;
};

class AgentTable {
 public:
  // The handle of `id`, creating an offline record on first sight.
  int Intern(const AgentId& id);
  AgentRecord* Find(const AgentId& id);
  const AgentRecord* Find(const AgentId& id) const;
  AgentRecord& Get(int handle) { return agents_[handle]; }
  const AgentRecord& Get(int handle) const { return agents_[handle]; }
  int size() const { return static_cast<int>(agents_.size()); }

  // Online with `spec`'s capabilities and every slot free. Precondition: no slot is
  // occupied and no restored lease is attached (the caller ends them first).
  void Activate(int handle, const AgentSpec& spec, TimeMs now, TimeMs liveness_timeout);
  // Offline, lost or awaiting reconnect. Precondition as for Activate.
  void Deactivate(int handle, AgentState state, TimeMs now);
  void SetDraining(int handle, bool draining);
  void SetPaused(int handle, bool paused);
  // Takes a free slot for `job`; returns its index. Precondition: free_slots > 0.
  int Occupy(int handle, JobId job, TimeMs now);
  void Release(int handle, int slot, TimeMs now);
  // Any message from the agent: pushes its liveness deadline.
  void Heard(int handle, TimeMs now, TimeMs liveness_timeout);
  void AddCachedModels(int handle, const std::vector<std::string>& models);
  void SetCachedModels(int handle, const std::vector<std::string>& models);
  void SetReserved(int handle, int slots) { agents_[handle].reserved_slots = slots; }

  // Online or draining agents whose liveness deadline is <= now, oldest first.
  std::vector<int> SilentAt(TimeMs now) const;
  TimeMs BusySlotMs(int handle, TimeMs now) const;

  // Free slots over all schedulable agents (reserved ones included).
  int total_free_slots() const { return total_free_slots_; }
  // Schedulable agents of a device kind, by (memory, handle) ascending.
  const std::set<std::pair<std::uint64_t, int>>& FreeByDevice(DeviceKind kind) const {
    return free_by_device_[static_cast<int>(kind)];
  }
  // Schedulable agents caching `model`; nullptr when none ever did.
  const std::set<int>* FreeWithModel(const std::string& model) const;

 private:
  bool Schedulable(const AgentRecord& a) const;
  void Index(const AgentRecord& a);    // adds a schedulable agent to the free indices
  void Unindex(const AgentRecord& a);  // removes it (no-op when not schedulable)
  void Accrue(AgentRecord& a, TimeMs now);
  void ChangeFree(AgentRecord& a, int delta);

  std::deque<AgentRecord> agents_;  // by handle; deque: records never move
  std::unordered_map<AgentId, int> by_id_;
  std::array<std::set<std::pair<std::uint64_t, int>>, kDeviceKindCount> free_by_device_;
  std::unordered_map<std::string, std::set<int>> free_by_model_;
  std::set<std::pair<TimeMs, int>> liveness_;  // (deadline, handle), online or draining
  int total_free_slots_ = 0;
};

}  // namespace farm::scheduler
