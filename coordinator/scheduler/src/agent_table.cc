#include "agent_table.h"

#include <algorithm>

namespace farm::scheduler {

bool AgentRecord::Runs(JobKind kind) const { return (kind_mask >> static_cast<int>(kind)) & 1u; }

bool AgentRecord::Caches(const std::vector<std::string>& models) const {
  for (const std::string& model : models) {
    if (cached.count(model) == 0) return false;
  }
  return true;
}

int AgentRecord::busy_slots() const { return static_cast<int>(slot_jobs.size()) - free_slots; }

std::vector<JobId> AgentRecord::Leases() const {
  std::vector<JobId> jobs;
  for (JobId job : slot_jobs) {
    if (job != 0) jobs.push_back(job);
  }
  jobs.insert(jobs.end(), restored_jobs.begin(), restored_jobs.end());
  std::sort(jobs.begin(), jobs.end());
  jobs.erase(std::unique(jobs.begin(), jobs.end()), jobs.end());
  return jobs;
}

int AgentTable::Intern(const AgentId& id) {
  auto it = by_id_.find(id);
  if (it != by_id_.end()) return it->second;
  const int handle = static_cast<int>(agents_.size());
  AgentRecord& a = agents_.emplace_back();
  a.id = id;
  a.handle = handle;
  by_id_.emplace(id, handle);
  return handle;
}

AgentRecord* AgentTable::Find(const AgentId& id) {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &agents_[it->second];
}

const AgentRecord* AgentTable::Find(const AgentId& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &agents_[it->second];
}

bool AgentTable::Schedulable(const AgentRecord& a) const {
  return a.state == AgentState::kOnline && a.free_slots > 0 && !a.paused;
}

void AgentTable::Index(const AgentRecord& a) {
  if (!Schedulable(a)) return;
  total_free_slots_ += a.free_slots;
  free_by_device_[static_cast<int>(a.device)].emplace(a.memory, a.handle);
  for (const std::string& model : a.cached) free_by_model_[model].insert(a.handle);
}

void AgentTable::Unindex(const AgentRecord& a) {
  if (!Schedulable(a)) return;
  total_free_slots_ -= a.free_slots;
  free_by_device_[static_cast<int>(a.device)].erase({a.memory, a.handle});
  for (const std::string& model : a.cached) {
    auto it = free_by_model_.find(model);
    if (it != free_by_model_.end()) it->second.erase(a.handle);
  }
}

void AgentTable::Accrue(AgentRecord& a, TimeMs now) {
  if (now > a.accrued_at_ms) {
    a.busy_slot_ms += static_cast<TimeMs>(a.busy_slots()) * (now - a.accrued_at_ms);
    a.accrued_at_ms = now;
  }
}

void AgentTable::Activate(int handle, const AgentSpec& spec, TimeMs now, TimeMs liveness_timeout) {
  AgentRecord& a = agents_[handle];
  Unindex(a);
  liveness_.erase({a.liveness_deadline_ms, handle});
  Accrue(a, now);
  a.state = AgentState::kOnline;
  a.device = spec.device;
  a.memory = spec.device_memory_bytes;
  a.kind_mask = 0;
  for (JobKind kind : spec.job_kinds) a.kind_mask |= 1u << static_cast<int>(kind);
  if (spec.job_kinds.empty()) a.kind_mask = ~0u;
  a.can_fetch_models = spec.can_fetch_models;
  a.cached = std::unordered_set<std::string>(spec.cached_models.begin(), spec.cached_models.end());
  a.slot_jobs.assign(spec.slots, 0);
  a.free_slots = spec.slots;
  a.reserved_slots = 0;
  a.paused = false;
  a.restored_jobs.clear();
  a.accrued_at_ms = now;
  a.last_heard_ms = now;
  a.liveness_deadline_ms = now + liveness_timeout;
  liveness_.emplace(a.liveness_deadline_ms, handle);
  Index(a);
}

void AgentTable::Deactivate(int handle, AgentState state, TimeMs now) {
  AgentRecord& a = agents_[handle];
  Unindex(a);
  liveness_.erase({a.liveness_deadline_ms, handle});
  Accrue(a, now);
  a.state = state;
  a.slot_jobs.clear();
  a.free_slots = 0;
  a.reserved_slots = 0;
}

void AgentTable::SetDraining(int handle, bool draining) {
  AgentRecord& a = agents_[handle];
  Unindex(a);
  a.state = draining ? AgentState::kDraining : AgentState::kOnline;
  Index(a);
}

void AgentTable::SetPaused(int handle, bool paused) {
  AgentRecord& a = agents_[handle];
  if (a.paused == paused) return;
  Unindex(a);
  a.paused = paused;
  Index(a);
}

int AgentTable::Occupy(int handle, JobId job, TimeMs now) {
  AgentRecord& a = agents_[handle];
  Accrue(a, now);
  auto it = std::find(a.slot_jobs.begin(), a.slot_jobs.end(), JobId{0});
  *it = job;
  ChangeFree(a, -1);
  return static_cast<int>(it - a.slot_jobs.begin());
}

void AgentTable::Release(int handle, int slot, TimeMs now) {
  AgentRecord& a = agents_[handle];
  if (slot < 0 || slot >= static_cast<int>(a.slot_jobs.size()) || a.slot_jobs[slot] == 0) {
    return;
  }
  Accrue(a, now);
  a.slot_jobs[slot] = 0;
  ChangeFree(a, +1);
}

void AgentTable::ChangeFree(AgentRecord& a, int delta) {
  // Only a change of schedulability touches the (per-model) indices.
  if (Schedulable(a) && a.free_slots + delta > 0) {
    a.free_slots += delta;
    total_free_slots_ += delta;
    return;
  }
  Unindex(a);
  a.free_slots += delta;
  Index(a);
}

void AgentTable::Heard(int handle, TimeMs now, TimeMs liveness_timeout) {
  AgentRecord& a = agents_[handle];
  if (a.state != AgentState::kOnline && a.state != AgentState::kDraining) return;
  a.last_heard_ms = std::max(a.last_heard_ms, now);
  liveness_.erase({a.liveness_deadline_ms, handle});
  a.liveness_deadline_ms = a.last_heard_ms + liveness_timeout;
  liveness_.emplace(a.liveness_deadline_ms, handle);
}

void AgentTable::AddCachedModels(int handle, const std::vector<std::string>& models) {
  AgentRecord& a = agents_[handle];
  Unindex(a);
  a.cached.insert(models.begin(), models.end());
  Index(a);
}

void AgentTable::SetCachedModels(int handle, const std::vector<std::string>& models) {
  AgentRecord& a = agents_[handle];
  Unindex(a);
  a.cached = std::unordered_set<std::string>(models.begin(), models.end());
  Index(a);
}

std::vector<int> AgentTable::SilentAt(TimeMs now) const {
  std::vector<int> silent;
  for (auto it = liveness_.begin(); it != liveness_.end() && it->first <= now; ++it) {
    silent.push_back(it->second);
  }
  return silent;
}

TimeMs AgentTable::BusySlotMs(int handle, TimeMs now) const {
  const AgentRecord& a = agents_[handle];
  TimeMs busy = a.busy_slot_ms;
  if (now > a.accrued_at_ms) busy += static_cast<TimeMs>(a.busy_slots()) * (now - a.accrued_at_ms);
  return busy;
}

const std::set<int>* AgentTable::FreeWithModel(const std::string& model) const {
  auto it = free_by_model_.find(model);
  return it == free_by_model_.end() ? nullptr : &it->second;
}

}  // namespace farm::scheduler
