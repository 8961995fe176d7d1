// Training groups: the cross product of a train: section's lists other than steps.
#pragma once

#include <cstdint>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/sweep/spec.h"

namespace farm::sweep {

std::uint64_t TrainGroupCount(const TrainSpec& train);

// True when train.extra's lr_scheduler makes the learning rate depend on the total step
// count (linear, cosine): a run to 2000 steps then passes step 800 at another rate than a
// run to 800, so each step of `steps` needs its own run.
bool StepsNeedOwnRuns(const TrainSpec& train);

// Train jobs per training group: 1, or one per step when StepsNeedOwnRuns.
std::uint64_t TrainJobsPerGroup(const TrainSpec& train);

// Every group's TrainParams, in order rank, alpha, learning_rate, batch_size,
// resolution, seed (last fastest), with the identity's and models' hashes filled in.
std::vector<TrainParams> TrainGroups(const SweepSpec& spec, const std::string& photos_sha256,
                                     const std::string& checkpoint_sha256);

}  // namespace farm::sweep
