// The job counts of farmd's sweep answer (GET /api/v1/sweeps/{id}), shared by
// `farmctl status` and `farmctl run`.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <ostream>

#include "progress_bar.h"

namespace farmctl {

// Reads "jobs_total", the per-state "jobs" object and "unrunnable" (queued jobs no online
// agent may take, with the most common reason); missing states count 0. Throws
// nlohmann::json::exception when "jobs" is absent (callers catch at their boundary).
JobCounts CountsOfSweep(const nlohmann::json& sweep);

// One line per reason of the sweep answer's "unrunnable" groups:
// "  16 jobs cannot run (first: job 3): <reason>". Nothing when there are none.
void PrintUnrunnable(std::ostream& out, const nlohmann::json& sweep);

}  // namespace farmctl
