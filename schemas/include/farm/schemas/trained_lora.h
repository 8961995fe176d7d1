// A render's LoRA from a training job: the ref "train:<param_hash>@<step>" (RenderParams)
// names the artifact "lora@<step>" in the JobResult of the train job with that param_hash.
// Both sides use these helpers: the train runner names its checkpoints, the render side
// asks farmd for them.
#pragma once

#include <string>
#include <string_view>

#include "farm/schemas/status.h"

namespace farm {

struct TrainedLoraRef {
  std::string train_param_hash;  // 64 lower-case hex digits
  int step = 0;                  // > 0
};

// Parses "train:<64 lower-case hex>@<positive step>". InvalidArgument naming the ref and
// the expected form otherwise.
StatusOr<TrainedLoraRef> ParseTrainedLoraRef(std::string_view ref);

// "lora@<step>": the artifact name of a train job's checkpoint at `step`.
std::string LoraArtifactName(int step);

}  // namespace farm
