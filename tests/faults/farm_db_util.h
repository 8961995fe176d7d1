// The fault tests' view of the farm database: opened read-only with sqlite3 directly
// (behind farmd's back, while it runs or after it was killed), so what is checked is
// what is on disk, not what farmd says.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farm_faults {

class FarmDb {
 public:
  static farm::StatusOr<std::unique_ptr<FarmDb>> OpenReadOnly(const std::string& path);
  ~FarmDb();

  // The first column of the first row of `sql` as an integer.
  farm::StatusOr<std::int64_t> Count(const std::string& sql) const;
  // The first column of every row of `sql`.
  farm::StatusOr<std::set<std::int64_t>> Ids(const std::string& sql) const;
  farm::StatusOr<std::set<std::string>> Texts(const std::string& sql) const;
  // Every row of `sql`, each column as text (NULL as "").
  farm::StatusOr<std::vector<std::vector<std::string>>> Rows(const std::string& sql) const;

  // Ids of the sweep's jobs that succeeded.
  farm::StatusOr<std::set<std::int64_t>> SucceededJobs(std::int64_t sweep_id) const;

 private:
  explicit FarmDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// What the exactly-once checks found in one sweep; each field should be 0 but jobs.
struct LedgerProblems {
  std::int64_t jobs = 0;                   // jobs of the sweep
  std::int64_t not_succeeded = 0;          // jobs whose state is not 'succeeded'
  std::int64_t success_count_not_one = 0;  // jobs without exactly one succeeded attempt
  std::int64_t attempts_inconsistent = 0;  // attempt_count vs the attempts rows disagree
  std::int64_t open_attempts = 0;          // attempts never finished
  std::int64_t success_not_last = 0;       // the succeeded attempt is not the newest one
  std::string ToString() const;
};

// Checks every job of `sweep_id` completed exactly once with consistent attempts.
farm::StatusOr<LedgerProblems> CheckLedger(const std::string& database, std::int64_t sweep_id);

}  // namespace farm_faults
