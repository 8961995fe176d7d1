// Renders grouped by param_hash, so that one canonical record is rendered once.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "farm/scheduler/types.h"

namespace farm::scheduler {

class DedupIndex {
 public:
  struct Group {
    JobId result = 0;           // a job whose result exists (its render succeeded); 0: none yet
    JobId in_flight = 0;        // the non-forced render of this hash now leased; 0: none
    std::vector<JobId> parked;  // non-forced duplicates waiting for in_flight
  };

  Group& Get(const std::string& param_hash) { return groups_[param_hash]; }
  Group* Find(const std::string& param_hash);

 private:
  std::unordered_map<std::string, Group> groups_;
};

}  // namespace farm::scheduler
