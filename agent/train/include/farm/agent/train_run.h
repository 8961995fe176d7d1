// One farm-train run on one rank: load the base model and the prepared dataset, create
// (or resume) the LoRA, train data-parallel with one gradient all-reduce per optimizer
// step, save kohya checkpoints and resume states at the save steps, validate by face-ID
// and select the best checkpoint. Rank 0 writes every file and reports progress; every
// rank computes the same weights (checked by an all-gathered checksum every
// checksum_every steps and at each save).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "farm/agent/collective.h"
#include "farm/agent/train_config.h"
#include "farm/schemas/status.h"

namespace farm::agent {

struct TrainRunOptions {
  std::string checkpoint;       // base SD 1.5 .safetensors (its tokenizer/ next to it)
  std::string dataset;          // prepared dataset folder
  std::string out_dir;          // checkpoints, states, metrics.jsonl, result.json
  TrainRunConfig config;
  bool resume = true;           // continue from the latest state in out_dir
  std::string device = "cpu";
  int threads = 0;              // intra-op threads; 0 keeps libtorch's default
  std::string face_models_dir;  // for validation; empty: validation off
  // Diagnostic: every rank writes its final flat LoRA weights to
  // out_dir/rank-<r>-weights.safetensors (to check that ranks agree bit for bit).
  bool write_rank_weights = false;
};

// One progress event (JSON object text) for farm-agent / farmctl watch; rank 0 only.
using TrainEventSink = std::function<void(const std::string& json_line)>;

struct TrainRunResult {
  int64_t steps = 0;
  int64_t resumed_from = 0;
  std::string result_json_path;  // rank 0
};

StatusOr<TrainRunResult> RunTraining(const TrainRunOptions& options, Collective& collective,
                                     const TrainEventSink& events);

}  // namespace farm::agent
