// A succeeded train job's outputs as store rows: the run (dataset, base checkpoint,
// hyper-parameters, world size, best step) from its TrainParams and "train_result", the
// steps from "train_metrics" (JSON lines), downsampled, and the checkpoints to record as
// the identity's LoRA. Pure: farmd reads the artifacts and writes the rows.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/store/records.h"

namespace farm::farmd {

// At most this many train_steps rows per job.
inline constexpr std::size_t kMaxTrainStepRows = 2000;

struct TrainCheckpoint {
  int step = 0;
  std::string sha256;
  std::optional<double> validation_score;
};

struct TrainOutputs {
  store::TrainRun run;  // job_id and dataset_sha256 left for the caller
  std::vector<store::TrainStep> steps;
  std::vector<TrainCheckpoint> checkpoints;  // saved ones, by step
  std::string identity;
};

// Keeps every k-th row (k = ceil(n / (max_rows - 1))) plus the last, so at most
// `max_rows` remain; fewer rows than that are kept as they are. Rows sorted by step.
std::vector<store::TrainStep> DownsampleSteps(std::vector<store::TrainStep> steps,
                                              std::size_t max_rows = kMaxTrainStepRows);

// InvalidArgument names what is missing or malformed (which artifact, which line).
StatusOr<TrainOutputs> ParseTrainOutputs(std::string_view params_json,
                                         std::string_view result_json,
                                         std::string_view metrics_jsonl,
                                         std::size_t max_rows = kMaxTrainStepRows);

}  // namespace farm::farmd
