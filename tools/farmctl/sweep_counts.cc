#include "sweep_counts.h"

#include <cstdint>
#include <nlohmann/json.hpp>

namespace farmctl {

JobCounts CountsOfSweep(const nlohmann::json& sweep) {
  JobCounts counts;
  const nlohmann::json& jobs = sweep.at("jobs");
  counts.total = sweep.value("jobs_total", std::int64_t{0});
  counts.queued = jobs.value("queued", std::int64_t{0});
  counts.running = jobs.value("leased", std::int64_t{0});
  counts.succeeded = jobs.value("succeeded", std::int64_t{0});
  counts.failed = jobs.value("failed", std::int64_t{0});
  counts.cancelled = jobs.value("cancelled", std::int64_t{0});
  counts.skipped = jobs.value("skipped", std::int64_t{0});
  // Absent from farmds older than the unrunnable report: nothing known, nothing shown.
  if (auto it = sweep.find("unrunnable"); it != sweep.end() && it->is_object()) {
    counts.unrunnable = it->value("jobs", std::int64_t{0});
    const nlohmann::json reasons = it->value("reasons", nlohmann::json::array());
    if (!reasons.empty() && reasons[0].is_object()) {
      counts.unrunnable_reason = reasons[0].value("reason", std::string());
    }
  }
  // Absent from farmds older than progress reports.
  if (auto it = sweep.find("progress"); it != sweep.end() && it->is_array()) {
    for (const nlohmann::json& p : *it) {
      if (!p.is_object() || p.value("stage", std::string()) != "train") continue;
      std::string line = "train job " + std::to_string(p.value("job_id", std::int64_t{0})) +
                         ": step " + std::to_string(p.value("step", 0)) + "/" +
                         std::to_string(p.value("total", 0));
      const std::string message = p.value("message", std::string());
      if (!message.empty()) line += ", " + message;
      counts.training += (counts.training.empty() ? "" : "; ") + line;
    }
  }
  // Absent for sweeps without search: (and from older farmds).
  if (auto it = sweep.find("search"); it != sweep.end() && it->is_object()) {
    counts.search = it->value("summary", std::string());
    counts.search_pending = !it->value("done", true);
  }
  return counts;
}

void PrintUnrunnable(std::ostream& out, const nlohmann::json& sweep) {
  auto it = sweep.find("unrunnable");
  if (it == sweep.end() || !it->is_object()) return;
  for (const nlohmann::json& group : it->value("reasons", nlohmann::json::array())) {
    if (!group.is_object()) continue;
    const std::int64_t jobs = group.value("jobs", std::int64_t{0});
    out << "  " << jobs << (jobs == 1 ? " job" : " jobs") << " cannot run (first: job "
        << group.value("first_job", std::int64_t{0})
        << "): " << group.value("reason", std::string()) << "\n";
  }
}

}  // namespace farmctl
