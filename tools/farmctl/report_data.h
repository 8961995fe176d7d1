// The rows behind farmctl report: one per render of the sweep (render_results joined with
// the render's parameters, its job's state and its image's artifact path).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::store {
class Store;
}

namespace farmctl::report {

struct RenderRow {
  std::int64_t render_id = 0;
  std::string param_hash;
  std::string sampler, scheduler;
  int steps = 0;
  double cfg = 0;
  int clip_skip = 0;
  std::uint64_t seed = 0;
  int width = 0, height = 0;
  std::string pose, tone;  // empty: none
  double denoise = 1.0;
  std::string lora;        // first LoRA's ref; empty: none
  std::optional<double> lora_weight;
  std::optional<int> lora_step;  // from "train:<hash>@<step>"
  std::string checkpoint;  // sha256
  std::string prompt;
  std::optional<double> score;      // cosine
  std::optional<int> faces_found;   // unset: not scored
  std::optional<double> seconds;
  std::optional<std::int64_t> rendered_at_ms;
  std::string agent;
  std::string status;       // the render job's state, "shared" without a job
  std::string image_sha256;  // empty until rendered
  std::string image_path;    // relative to the artifact root; empty until rendered
};

struct SweepInfo {
  std::int64_t id = 0;
  std::string name;
  std::string state;
  std::int64_t created_at_ms = 0;
};

struct ReportData {
  SweepInfo sweep;
  std::vector<RenderRow> rows;  // by render id
};

// NotFound for an unknown sweep.
farm::StatusOr<ReportData> LoadReportData(farm::store::Store& store, std::int64_t sweep_id);

// The value of a group-by parameter in a row as text ("(none)" for a missing pose/tone/
// LoRA/score), or nullopt for an unknown parameter name.
std::optional<std::string> ParameterValue(const RenderRow& row, const std::string& parameter);

// A1111-style one-line summary of the row's parameters.
std::string ParameterLine(const RenderRow& row);

}  // namespace farmctl::report
