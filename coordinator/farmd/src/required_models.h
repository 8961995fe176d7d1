// The model files a job reads, for the scheduler's preference for agents that already
// hold them (scheduler::JobSpec::required_models).
#pragma once

#include <string>
#include <vector>

#include "farm/store/records.h"

namespace farm::farmd {

// A render's checkpoint, its LoRA files given by content hash ("sha256:<hex>") and its
// ControlNets, sorted and unique; a train job's base checkpoint. Other kinds, and params
// that do not parse (the agent reports those), need none.
std::vector<std::string> RequiredModels(const store::Job& job);

}  // namespace farm::farmd
