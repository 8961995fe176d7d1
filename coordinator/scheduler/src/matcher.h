// Finds agent slots for one job class: capability filter, model affinity, best fit.
#pragma once

#include <vector>

#include "agent_table.h"
#include "ready_queue.h"

namespace farm::scheduler {

// Whether `agent` can ever run jobs of class `req`, free slots aside: online, right
// device kind (any, when the class leaves it open), enough memory, runs the kind, not
// excluded, and can fetch the models or already caches them.
bool Eligible(const AgentRecord& agent, const ClassKey& req);

// Free slots of `agent` a job may take: slots held for the gang reservation do not count
// unless `may_use_reserved` (the job is the gang, or is ordered before it).
int UsableSlots(const AgentRecord& agent, bool may_use_reserved);

// gang_size agent handles, one per rank (an agent appears once per slot it gives), or an
// empty vector when the class cannot be placed now. All ranks share a device kind.
// Preference: agents caching every required model, then the smallest memory that fits;
// for an open device kind, CPU before CUDA.
std::vector<int> FindPlacement(const AgentTable& agents, const ClassKey& req,
                               bool may_use_reserved);

}  // namespace farm::scheduler
