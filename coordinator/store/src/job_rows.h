// Private to farm_store: job writing and reading shared by CreateSweep and InsertJobs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/store/records.h"
#include "render_rows.h"
#include "store_impl.h"

namespace farm::store {

// Checks kinds, hashes and dependency indices and canonicalises the render records, all
// before any SQL runs. Index-aligned with `jobs`; set for kRender jobs only.
StatusOr<std::vector<std::optional<CanonicalRender>>> PrepareJobs(const std::string& path,
                                                                  const std::vector<NewJob>& jobs);

// Writes the jobs, their deps and render rows inside the caller's write scope, sharing
// existing renders as Store::InsertJobs describes. Throws SQLite::Exception.
InsertedJobs WriteJobs(StoreImpl& impl, std::int64_t sweep_id, const std::vector<NewJob>& jobs,
                       const std::vector<std::optional<CanonicalRender>>& canonical);

}  // namespace farm::store
