// Store methods for nightly evaluation verdicts (table nightly_runs).
#include <string>

#include "farm/store/store.h"
#include "store_impl.h"

namespace farm::store {
namespace {

constexpr char kNightlyColumns[] =
    "SELECT sweep_id, spec_name, baseline_sweep_id, verdict, summary_json, created_at "
    "FROM nightly_runs";

StatusOr<NightlyVerdict> ParseVerdict(std::string_view name) {
  for (NightlyVerdict verdict : {NightlyVerdict::kPass, NightlyVerdict::kFail, NightlyVerdict::kFirst}) {
    if (name == Name(verdict)) return verdict;
  }
  return InvalidArgument("unknown nightly verdict '" + std::string(name) + "'");
}

NightlyRun ReadRun(SQLite::Statement& row) {
  NightlyRun run;
  run.sweep_id = row.getColumn(0).getInt64();
  run.spec_name = row.getColumn(1).getString();
  run.baseline_sweep_id = OptionalInt64(row.getColumn(2));
  run.verdict = ValueOrCorrupt(ParseVerdict(row.getColumn(3).getText()),
                               "nightly run " + std::to_string(run.sweep_id));
  run.summary_json = row.getColumn(4).getString();
  run.created_at_ms = row.getColumn(5).getInt64();
  return run;
}

}  // namespace

const char* Name(NightlyVerdict value) {
  switch (value) {
    case NightlyVerdict::kPass:
      return "pass";
    case NightlyVerdict::kFail:
      return "fail";
    case NightlyVerdict::kFirst:
      return "first";
  }
  return "?";
}

Status Store::RecordNightlyRun(const NightlyRun& run) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("record nightly run"));
  return Guarded(*impl_, "record nightly run", [&]() -> Status {
    auto write = impl_->Prepare(
        "INSERT INTO nightly_runs (sweep_id, spec_name, baseline_sweep_id, verdict, summary_json, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sweep_id) DO UPDATE SET "
        "spec_name = excluded.spec_name, baseline_sweep_id = excluded.baseline_sweep_id, "
        "verdict = excluded.verdict, summary_json = excluded.summary_json");
    write->bind(1, static_cast<int64_t>(run.sweep_id));
    write->bind(2, run.spec_name);
    BindIdOrNull(*write, 3, run.baseline_sweep_id.value_or(0));
    write->bind(4, Name(run.verdict));
    write->bind(5, run.summary_json);
    write->bind(6, static_cast<int64_t>(impl_->NowMs()));
    write->exec();
    return Status::Ok();
  });
}

StatusOr<NightlyRun> Store::GetNightlyRun(std::int64_t sweep_id) {
  return Guarded(*impl_, "get nightly run", [&]() -> StatusOr<NightlyRun> {
    auto row = impl_->Prepare(std::string(kNightlyColumns) + " WHERE sweep_id = ?");
    row->bind(1, static_cast<int64_t>(sweep_id));
    if (!row->executeStep()) return impl_->NotFoundError("nightly run of sweep " + std::to_string(sweep_id));
    return ReadRun(*row);
  });
}

StatusOr<NightlyRun> Store::GetLastGoodNightly(const std::string& spec_name) {
  return Guarded(*impl_, "get last-good nightly run", [&]() -> StatusOr<NightlyRun> {
    auto row = impl_->Prepare(std::string(kNightlyColumns) +
                              " WHERE spec_name = ? AND verdict IN ('pass', 'first') "
                              "ORDER BY sweep_id DESC LIMIT 1");
    row->bind(1, spec_name);
    if (!row->executeStep()) return impl_->NotFoundError("last-good nightly run of '" + spec_name + "'");
    return ReadRun(*row);
  });
}

}  // namespace farm::store
