// The one gang reservation: slots held for the first gang job that could not be placed.
//
// Planned over agents eligible for the gang, freest first (then by handle), so that the
// reserved agents fill up soonest. A reserved agent keeps `reserved_slots` of its free
// slots for the gang: jobs ordered after the gang cannot take them (see matcher.h).
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "agent_table.h"
#include "ready_queue.h"

namespace farm::scheduler {

class GangReservation {
 public:
  bool active() const { return owner_.has_value(); }
  // Preconditions for the accessors below: active().
  const QueueKey& owner() const { return *owner_; }
  TimeMs planned_at_ms() const { return planned_at_ms_; }

  // Reserves req.gang_size slots for `owner` on eligible agents of one device kind.
  // Returns false, reserving nothing, when the eligible online capacity is too small.
  // Precondition: !active().
  bool Plan(AgentTable& agents, const QueueKey& owner, const ClassKey& req, TimeMs now);
  // Frees the reserved slots for everyone. No-op when inactive.
  void Release(AgentTable& agents);
  bool Covers(int agent) const;

 private:
  std::optional<QueueKey> owner_;
  std::vector<std::pair<int, int>> held_;  // (agent handle, slots)
  TimeMs planned_at_ms_ = 0;
};

}  // namespace farm::scheduler
