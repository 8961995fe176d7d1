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
  return counts;
}

}  // namespace farmctl
