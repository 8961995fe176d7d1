// The job counts of farmd's sweep answer (GET /api/v1/sweeps/{id}), shared by
// `farmctl status` and `farmctl run`.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "progress_bar.h"

namespace farmctl {

// Reads "jobs_total" and the per-state "jobs" object; missing states count 0. Throws
// nlohmann::json::exception when "jobs" is absent (callers catch at their boundary).
JobCounts CountsOfSweep(const nlohmann::json& sweep);

}  // namespace farmctl
