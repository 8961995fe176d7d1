// How many slots a job needs at once (scheduler::JobSpec::gang_size): a train job's
// "ranks" (TrainParams; the data-parallel ranks of its run), 1 for everything else. Read
// from the stored record, so recovery after a restart leases the same gang.
#pragma once

#include "farm/store/records.h"

namespace farm::farmd {

int GangSizeOf(const store::Job& job);

}  // namespace farm::farmd
