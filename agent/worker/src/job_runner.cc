#include "farm/agent/job_runner.h"

#include <algorithm>

namespace farm::agent {

void CancellationToken::Request(Reason reason) {
  int expected = 0;
  reason_.compare_exchange_strong(expected, static_cast<int>(reason), std::memory_order_acq_rel);
}

bool IsPermanentFailure(StatusCode code) {
  return code == StatusCode::kInvalidArgument || code == StatusCode::kDataLoss;
}

JobOutcome FailedOutcome(const Status& status) {
  JobOutcome out;
  out.status = JobStatus::kFailed;
  out.error = status.ToString();
  out.permanent = IsPermanentFailure(status.code());
  return out;
}

std::vector<std::string> JobRunner::held_models() const { return {}; }

Status RunnerRegistry::Register(std::unique_ptr<JobRunner> runner) {
  if (runner == nullptr) return InvalidArgument("RunnerRegistry::Register: null runner");
  const int kind = static_cast<int>(runner->kind());
  if (runners_.count(kind) != 0) {
    return InvalidArgument("a runner for job kind " + studiofarm::v1::JobKind_Name(runner->kind()) +
                           " is already registered");
  }
  runners_.emplace(kind, std::move(runner));
  return Status::Ok();
}

JobRunner* RunnerRegistry::Find(studiofarm::v1::JobKind kind) const {
  auto it = runners_.find(static_cast<int>(kind));
  return it == runners_.end() ? nullptr : it->second.get();
}

std::vector<studiofarm::v1::JobKind> RunnerRegistry::kinds() const {
  std::vector<studiofarm::v1::JobKind> out;
  for (const auto& [kind, runner] : runners_) out.push_back(runner->kind());
  return out;
}

std::vector<std::string> RunnerRegistry::held_models() const {
  std::vector<std::string> out;
  for (const auto& [kind, runner] : runners_) {
    std::vector<std::string> held = runner->held_models();
    out.insert(out.end(), held.begin(), held.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace farm::agent
