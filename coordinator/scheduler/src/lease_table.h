// Open leases, one per job at most, indexed by deadline for expiry.
#pragma once

#include <cstddef>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "farm/scheduler/types.h"

namespace farm::scheduler {

// One rank of a lease: an agent handle and the slot it occupies there (-1 while the
// agent is awaiting reconnection after a restore and has no slots yet).
struct Seat {
  int agent = -1;
  int slot = -1;
  int rank = 0;
};

struct Lease {
  JobId job = 0;
  int attempt = 0;
  std::vector<Seat> seats;  // rank order
  TimeMs leased_at_ms = 0;
  TimeMs deadline_ms = 0;
  bool cancelling = false;  // the job was cancelled or skipped; waiting for the holder

  bool HeldBy(int agent) const;
  std::vector<int> Agents() const;  // distinct handles, rank order of first appearance
};

class LeaseTable {
 public:
  Lease* Find(JobId job);
  const Lease* Find(JobId job) const;
  // Precondition: the job has no open lease.
  Lease& Open(Lease lease);
  void Close(JobId job);
  // Moves the deadline to max(current, deadline_ms).
  void Extend(JobId job, TimeMs deadline_ms);
  // Jobs whose lease deadline is <= now, earliest first.
  std::vector<JobId> ExpiredAt(TimeMs now) const;
  std::size_t size() const { return leases_.size(); }

 private:
  std::unordered_map<JobId, Lease> leases_;
  std::set<std::pair<TimeMs, JobId>> by_deadline_;
};

}  // namespace farm::scheduler
