// Queued jobs that no online agent may take, and why: what `farmctl status`, `watch`
// and `run` show instead of a queue that waits in silence.
#include <algorithm>
#include <array>
#include <string>

#include "matcher.h"
#include "scheduler_impl.h"

namespace farm::scheduler {
namespace {

// Why one online agent may not take a class, in the order the checks run.
enum class Refusal { kKind, kDevice, kMemory, kFailedIt, kModels, kCount };

Refusal RefusalOf(const AgentRecord& agent, const ClassKey& req) {
  if (!agent.Runs(req.kind)) return Refusal::kKind;
  if (req.device && agent.device != *req.device) return Refusal::kDevice;
  if (agent.memory < req.min_memory) return Refusal::kMemory;
  if (std::binary_search(req.excluded.begin(), req.excluded.end(), agent.handle)) {
    return Refusal::kFailedIt;
  }
  return Refusal::kModels;  // the only check of Eligible() left
}

std::string RefusalText(Refusal refusal, const ClassKey& req) {
  switch (refusal) {
    case Refusal::kKind:
      return std::string("does not run ") + Name(req.kind) + " jobs";
    case Refusal::kDevice:
      return std::string("has no ") + Name(*req.device) + " device";
    case Refusal::kMemory:
      return "has less than " + std::to_string(req.min_memory) + " bytes of device memory";
    case Refusal::kFailedIt:
      return "failed it before";
    case Refusal::kModels:
      return "cannot fetch its models and does not hold them";
    case Refusal::kCount:
      break;
  }
  return "cannot take it";
}

// The newest error an agent reported for the job (what a person needs to fix).
std::string LastFailure(const JobRecord& job) {
  for (auto it = job.attempts.rbegin(); it != job.attempts.rend(); ++it) {
    if (it->outcome == AttemptOutcome::kFailed && !it->error.empty()) return it->error;
  }
  return "";
}

}  // namespace

std::optional<UnrunnableClass> SchedulerImpl::WhyUnrunnable(const ClassKey& req) const {
  std::array<int, static_cast<int>(Refusal::kCount)> refused{};
  std::array<int, kDeviceKindCount> eligible_slots{};
  std::vector<AgentId> failed_it;
  int online = 0;
  for (int handle = 0; handle < agents_.size(); ++handle) {
    const AgentRecord& agent = agents_.Get(handle);
    if (agent.state != AgentState::kOnline) continue;
    ++online;
    if (Eligible(agent, req)) {
      eligible_slots[static_cast<int>(agent.device)] += static_cast<int>(agent.slot_jobs.size());
      continue;
    }
    const Refusal refusal = RefusalOf(agent, req);
    ++refused[static_cast<int>(refusal)];
    if (refusal == Refusal::kFailedIt) failed_it.push_back(agent.id);
  }
  if (online == 0) return UnrunnableClass{"no agent is online", false};
  // A gang's ranks share one device kind (FindPlacement), so capacity is per kind.
  const int capacity = *std::max_element(eligible_slots.begin(), eligible_slots.end());
  if (capacity >= req.gang_size) return std::nullopt;
  if (capacity > 0) {
    return UnrunnableClass{"needs " + std::to_string(req.gang_size) +
                               " slots at once (gang) but the online agents that may take it "
                               "have " + std::to_string(capacity) + " of one device kind",
                           false};
  }
  if (refused[static_cast<int>(Refusal::kFailedIt)] == online) {
    std::sort(failed_it.begin(), failed_it.end());
    std::string names;
    for (const AgentId& id : failed_it) names += (names.empty() ? "" : ", ") + id;
    return UnrunnableClass{"failed on every online agent (" + names + ")", true};
  }
  std::string text = "no online agent may take it:";
  bool first = true;
  for (int i = 0; i < static_cast<int>(Refusal::kCount); ++i) {
    if (refused[i] == 0) continue;
    text += std::string(first ? " " : "; ") + std::to_string(refused[i]) + " of " +
            std::to_string(online) + " " + RefusalText(static_cast<Refusal>(i), req);
    first = false;
  }
  return UnrunnableClass{text, refused[static_cast<int>(Refusal::kFailedIt)] > 0};
}

std::vector<UnrunnableJob> SchedulerImpl::UnrunnableJobs(std::optional<SweepId> sweep) const {
  std::vector<std::pair<std::uint64_t, UnrunnableJob>> found;  // (submission order, job)
  for (const ReadyQueue::Head& head : ready_.heads()) {
    // Jobs of a class share every placement requirement, so the verdict is the class's;
    // only the failure message differs per job.
    const std::optional<UnrunnableClass> why = WhyUnrunnable(ready_.Key(head.class_id));
    if (!why) continue;
    for (const QueueKey& key : ready_.Jobs(head.class_id)) {
      const JobRecord* job = jobs_.Find(key.job);
      if (job == nullptr || (sweep && job->spec.sweep_id != *sweep)) continue;
      std::string reason = why->text;
      if (why->with_error) {
        if (const std::string error = LastFailure(*job); !error.empty()) reason += ": " + error;
      }
      found.push_back({job->seq, UnrunnableJob{job->spec.id, job->spec.sweep_id, std::move(reason)}});
    }
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<UnrunnableJob> out;
  out.reserve(found.size());
  for (auto& [seq, job] : found) out.push_back(std::move(job));
  return out;
}

}  // namespace farm::scheduler
