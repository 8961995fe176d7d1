// Choosing the LoRA checkpoint to keep by face-ID (EasyPhoto's validation): each validated
// step has a score (the mean face similarity of its validation renders); the best step is
// the highest score, the earliest on ties (fewer steps, less over-fitting). With top_k > 1
// the k best checkpoints are also averaged element-wise into one LoRA (EasyPhoto's
// ensemble).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/tensor_map.h"

namespace farm::agent {

struct CheckpointSelection {
  int64_t best_step = 0;
  std::optional<double> best_score;  // nullopt: no step had a score (see reason)
  std::vector<int64_t> top_steps;    // best first; at most top_k, only scored steps
  std::string reason;                // how best_step was chosen when not by score
};

// `scores`: step -> score (nullopt when none of its renders showed a face). `fallback_step`
// is taken when no step has a score (the last saved step).
CheckpointSelection SelectCheckpoints(const std::map<int64_t, std::optional<double>>& scores,
                                      int64_t top_k, int64_t fallback_step);

// The element-wise mean of LoRAs with the same tensors (names, shapes); alphas must agree.
StatusOr<sd::TensorMap> AverageLoras(const std::vector<sd::TensorMap>& loras);

}  // namespace farm::agent
