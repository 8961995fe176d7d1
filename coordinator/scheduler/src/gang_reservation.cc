#include "gang_reservation.h"

#include <algorithm>

#include "matcher.h"

namespace farm::scheduler {
namespace {

std::vector<const AgentRecord*> Candidates(const AgentTable& agents, const ClassKey& req,
                                           DeviceKind kind) {
  std::vector<const AgentRecord*> out;
  for (int h = 0; h < agents.size(); ++h) {
    const AgentRecord& a = agents.Get(h);
    if (a.device == kind && Eligible(a, req)) out.push_back(&a);
  }
  std::sort(out.begin(), out.end(), [](const AgentRecord* x, const AgentRecord* y) {
    if (x->free_slots != y->free_slots) return x->free_slots > y->free_slots;
    return x->handle < y->handle;
  });
  return out;
}

}  // namespace

bool GangReservation::Plan(AgentTable& agents, const QueueKey& owner, const ClassKey& req,
                           TimeMs now) {
  std::vector<DeviceKind> kinds;
  if (req.device) {
    kinds.push_back(*req.device);
  } else {
    kinds = {DeviceKind::kCpu, DeviceKind::kCuda};
  }
  for (DeviceKind kind : kinds) {
    std::vector<const AgentRecord*> candidates = Candidates(agents, req, kind);
    int capacity = 0;
    for (const AgentRecord* a : candidates) capacity += static_cast<int>(a->slot_jobs.size());
    if (capacity < req.gang_size) continue;
    int need = req.gang_size;
    for (const AgentRecord* a : candidates) {
      if (need == 0) break;
      const int n = std::min(static_cast<int>(a->slot_jobs.size()), need);
      held_.emplace_back(a->handle, n);
      agents.SetReserved(a->handle, n);
      need -= n;
    }
    owner_ = owner;
    planned_at_ms_ = now;
    return true;
  }
  return false;
}

void GangReservation::Release(AgentTable& agents) {
  for (const auto& [handle, slots] : held_) agents.SetReserved(handle, 0);
  held_.clear();
  owner_.reset();
}

bool GangReservation::Covers(int agent) const {
  return std::any_of(held_.begin(), held_.end(),
                     [agent](const auto& held) { return held.first == agent; });
}

}  // namespace farm::scheduler
