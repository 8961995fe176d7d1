// Training groups: the cross product of a train: section's lists other than steps.
#pragma once

#include <cstdint>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/sweep/spec.h"

namespace farm::sweep {

std::uint64_t TrainGroupCount(const TrainSpec& train);

// Every group's TrainParams, in order rank, alpha, learning_rate, batch_size,
// resolution, seed (last fastest), with the identity's and models' hashes filled in.
std::vector<TrainParams> TrainGroups(const SweepSpec& spec, const std::string& photos_sha256,
                                     const std::string& checkpoint_sha256);

}  // namespace farm::sweep
