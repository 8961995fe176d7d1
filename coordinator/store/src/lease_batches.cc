// Store methods for farmd's group commit: many leases started or ended, and many named
// job outputs, each with one multi-row statement per table (in chunks), instead of two
// or three statements and a savepoint per row.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "farm/store/store.h"
#include "store_impl.h"

namespace farm::store {
namespace {

// Rows per statement: a call of up to this many rows is one statement per table (farmd's
// group commits hold a few to a few dozen jobs). Each row count has its own statement
// text, prepared once and cached by the store: at most this many per kind.
constexpr std::size_t kMaxRowsPerStatement = 64;

std::size_t NextChunk(std::size_t left) { return std::min(left, kMaxRowsPerStatement); }

// "(?, ?, ?), (?, ?, ?)" for `rows` rows of `columns` parameters.
std::string ValuesList(std::size_t rows, int columns) {
  std::string row = "(";
  for (int c = 0; c < columns; ++c) row += c == 0 ? "?" : ", ?";
  row += ")";
  std::string out;
  for (std::size_t r = 0; r < rows; ++r) {
    if (r > 0) out += ", ";
    out += row;
  }
  return out;
}

// The statement texts for 1..kMaxRowsPerStatement rows: `head` + ValuesList + `tail`,
// built once (per call it was a string build and a hash of it every time). Built whole in
// the constructor, so the function-local instances below are read-only once made and
// safe for stores on several threads.
class StatementTexts {
 public:
  StatementTexts(const std::string& head, int columns, const std::string& tail) {
    for (std::size_t rows = 1; rows <= kMaxRowsPerStatement; ++rows) {
      texts_[rows - 1] = head + ValuesList(rows, columns) + tail;
    }
  }
  const std::string& For(std::size_t rows) const { return texts_[rows - 1]; }

 private:
  std::array<std::string, kMaxRowsPerStatement> texts_;
};

// Thrown inside the write scope when a row fails a check: the scope rolls back and the
// Status comes out of Guarded unchanged.
struct RowRefused {
  Status status;
};

template <typename Fn>
Status GuardedRows(StoreImpl& impl, std::string_view operation, Fn&& fn) {
  try {
    return Guarded(impl, operation, [&]() -> Status {
      WriteScope scope(impl);
      fn();
      scope.Commit();
      return Status::Ok();
    });
  } catch (const RowRefused& refused) {
    return refused.status;
  }
}

}  // namespace

Status Store::StartAttempts(const std::vector<NewLease>& leases) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("start attempts"));
  if (leases.empty()) return Status::Ok();
  const std::int64_t now = impl_->NowMs();
  return GuardedRows(*impl_, "start attempts", [&] {
    for (std::size_t begin = 0; begin < leases.size();) {
      const std::size_t n = NextChunk(leases.size() - begin);
      {
        // Fencing as in StartAttempt: the job must be queued and the lease its next attempt.
        static const StatementTexts texts(
            "UPDATE jobs SET state = 'leased', attempt_count = v.column2, updated_at = ? FROM "
            "(VALUES ",
            2,
            ") AS v WHERE jobs.id = v.column1 AND "
            "jobs.state = 'queued' AND jobs.attempt_count + 1 = v.column2");
        auto update = impl_->Prepare(texts.For(n));
        int p = 1;
        update->bind(p++, static_cast<int64_t>(now));
        for (std::size_t i = begin; i < begin + n; ++i) {
          update->bind(p++, static_cast<int64_t>(leases[i].job_id));
          update->bind(p++, leases[i].attempt);
        }
        if (static_cast<std::size_t>(update->exec()) != n) {
          throw RowRefused{FailedPrecondition(impl_->path() + ": start attempts: a job of jobs " +
                                              std::to_string(leases[begin].job_id) + ".." +
                                              std::to_string(leases[begin + n - 1].job_id) +
                                              " is not queued or its attempt is not the next one")};
        }
      }
      {
        // The agents foreign key refuses an unknown agent (InvalidArgument).
        static const StatementTexts texts(
            "INSERT INTO attempts (job_id, attempt, agent_id, leased_at, deadline) VALUES ", 5, "");
        auto insert = impl_->Prepare(texts.For(n));
        int p = 1;
        for (std::size_t i = begin; i < begin + n; ++i) {
          insert->bind(p++, static_cast<int64_t>(leases[i].job_id));
          insert->bind(p++, leases[i].attempt);
          insert->bind(p++, leases[i].agent_id);
          insert->bind(p++, static_cast<int64_t>(now));
          insert->bind(p++, static_cast<int64_t>(leases[i].deadline_ms));
        }
        insert->exec();
      }
      begin += n;
    }
  });
}

Status Store::FinishAttempts(const std::vector<EndedLease>& ended) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("finish attempts"));
  if (ended.empty()) return Status::Ok();
  const std::int64_t now = impl_->NowMs();
  return GuardedRows(*impl_, "finish attempts", [&] {
    for (std::size_t begin = 0; begin < ended.size();) {
      const std::size_t n = NextChunk(ended.size() - begin);
      {
        // Fencing as in FinishAttempt: open, and the job's newest attempt.
        static const StatementTexts texts(
            "UPDATE attempts SET outcome = v.column3, finished_at = ?, error = v.column4, "
            "counted = v.column5, metrics_json = COALESCE(v.column6, attempts.metrics_json) "
            "FROM (VALUES ",
            6,
            ") AS v WHERE attempts.job_id = v.column1 AND "
            "attempts.attempt = v.column2 AND attempts.outcome IS NULL AND "
            "v.column2 = (SELECT attempt_count FROM jobs WHERE jobs.id = v.column1)");
        auto close = impl_->Prepare(texts.For(n));
        int p = 1;
        close->bind(p++, static_cast<int64_t>(now));
        for (std::size_t i = begin; i < begin + n; ++i) {
          close->bind(p++, static_cast<int64_t>(ended[i].job_id));
          close->bind(p++, ended[i].attempt);
          close->bind(p++, Name(ended[i].outcome));
          BindTextOrNull(*close, p++, ended[i].error);
          close->bind(p++, ended[i].counted ? 1 : 0);
          BindTextOrNull(*close, p++, ended[i].metrics_json);
        }
        if (static_cast<std::size_t>(close->exec()) != n) {
          throw RowRefused{
              FailedPrecondition(impl_->path() + ": finish attempts: an attempt of jobs " +
                                 std::to_string(ended[begin].job_id) + ".." +
                                 std::to_string(ended[begin + n - 1].job_id) +
                                 " is unknown, already finished or superseded (stale lease)")};
        }
      }
      {
        static const StatementTexts texts(
            "UPDATE jobs SET state = v.column2, last_error = COALESCE(v.column3, last_error), "
            "updated_at = ? FROM (VALUES ",
            3, ") AS v WHERE jobs.id = v.column1");
        auto update = impl_->Prepare(texts.For(n));
        int p = 1;
        update->bind(p++, static_cast<int64_t>(now));
        for (std::size_t i = begin; i < begin + n; ++i) {
          update->bind(p++, static_cast<int64_t>(ended[i].job_id));
          update->bind(p++, Name(ended[i].next_state));
          BindTextOrNull(*update, p++, ended[i].error);
        }
        update->exec();
      }
      begin += n;
    }
  });
}

Status Store::SetJobArtifacts(const std::vector<JobArtifactLink>& links) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set job artifacts"));
  for (const JobArtifactLink& link : links) {
    if (link.name.empty()) {
      return InvalidArgument(impl_->path() + ": set job artifacts: job " +
                             std::to_string(link.job_id) + ": the artifact name is empty");
    }
  }
  if (links.empty()) return Status::Ok();
  return GuardedRows(*impl_, "set job artifacts", [&] {
    for (std::size_t begin = 0; begin < links.size();) {
      const std::size_t n = NextChunk(links.size() - begin);
      static const StatementTexts texts(
          "INSERT OR REPLACE INTO job_artifacts (job_id, name, artifact_id) VALUES ", 3, "");
      auto insert = impl_->Prepare(texts.For(n));
      int p = 1;
      for (std::size_t i = begin; i < begin + n; ++i) {
        insert->bind(p++, static_cast<int64_t>(links[i].job_id));
        insert->bind(p++, links[i].name);
        insert->bind(p++, static_cast<int64_t>(links[i].artifact_id));
      }
      insert->exec();
      begin += n;
    }
  });
}

}  // namespace farm::store
