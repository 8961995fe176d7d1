#include "lease_table.h"

#include <algorithm>

namespace farm::scheduler {

bool Lease::HeldBy(int agent) const {
  return std::any_of(seats.begin(), seats.end(),
                     [agent](const Seat& s) { return s.agent == agent; });
}

std::vector<int> Lease::Agents() const {
  std::vector<int> agents;
  for (const Seat& seat : seats) {
    if (std::find(agents.begin(), agents.end(), seat.agent) == agents.end()) {
      agents.push_back(seat.agent);
    }
  }
  return agents;
}

Lease* LeaseTable::Find(JobId job) {
  auto it = leases_.find(job);
  return it == leases_.end() ? nullptr : &it->second;
}

const Lease* LeaseTable::Find(JobId job) const {
  auto it = leases_.find(job);
  return it == leases_.end() ? nullptr : &it->second;
}

Lease& LeaseTable::Open(Lease lease) {
  const JobId job = lease.job;
  by_deadline_.emplace(lease.deadline_ms, job);
  return leases_.insert_or_assign(job, std::move(lease)).first->second;
}

void LeaseTable::Close(JobId job) {
  auto it = leases_.find(job);
  if (it == leases_.end()) return;
  by_deadline_.erase({it->second.deadline_ms, job});
  leases_.erase(it);
}

void LeaseTable::Extend(JobId job, TimeMs deadline_ms) {
  Lease* lease = Find(job);
  if (lease == nullptr || deadline_ms <= lease->deadline_ms) return;
  by_deadline_.erase({lease->deadline_ms, job});
  lease->deadline_ms = deadline_ms;
  by_deadline_.emplace(deadline_ms, job);
}

std::vector<JobId> LeaseTable::ExpiredAt(TimeMs now) const {
  std::vector<JobId> expired;
  for (auto it = by_deadline_.begin(); it != by_deadline_.end() && it->first <= now; ++it) {
    expired.push_back(it->second);
  }
  return expired;
}

}  // namespace farm::scheduler
