// Scheduling rounds: walk the queue in order, class by class, and place jobs.
#include <optional>
#include <string>
#include <vector>

#include "matcher.h"
#include "scheduler_impl.h"

namespace farm::scheduler {
namespace {

// Rounds per Schedule() call: a round that released a reservation or queued newly
// runnable jobs may have unblocked classes it had already passed.
constexpr int kMaxRoundsPerCall = 4;

}  // namespace

void SchedulerImpl::Schedule() {
  for (int round = 0; round < kMaxRoundsPerCall && dirty_; ++round) {
    dirty_ = false;
    const TimeMs now = Now();
    const ReadyQueue::HeadSet& heads = ready_.heads();
    std::optional<QueueKey> cursor;
    bool inclusive = true;  // the head at the cursor left the queue: look at its successor
    while (agents_.total_free_slots() > 0) {
      auto it = heads.begin();
      if (cursor) {
        const ReadyQueue::Head probe{*cursor, 0};
        it = inclusive ? heads.lower_bound(probe) : heads.upper_bound(probe);
      }
      if (it == heads.end()) break;
      const ReadyQueue::Head head = *it;
      cursor = head.key;
      JobRecord& job = *jobs_.Find(head.key.job);
      if (DeferDuplicate(job)) {
        inclusive = true;
        continue;
      }
      const ClassKey& req = ready_.Key(head.class_id);
      const bool may_use_reserved = !reservation_.active() || !(reservation_.owner() < head.key);
      const std::vector<int> picks = FindPlacement(agents_, req, may_use_reserved);
      if (!picks.empty()) {
        DispatchJob(job, picks);
        inclusive = true;
        continue;
      }
      // Nothing of this class fits now: skip the whole class for this round.
      if (req.gang_size > 1 && options_.gang_reservation) ConsiderReservation(head, req, now);
      inclusive = false;
    }
  }
}

bool SchedulerImpl::DeferDuplicate(JobRecord& job) {
  if (job.spec.kind != JobKind::kRender || job.spec.force) return false;
  DedupIndex::Group* group = dedup_.Find(job.spec.param_hash);
  if (group == nullptr) return false;
  if (group->result != 0 && group->result != job.spec.id) {
    const JobId producer = group->result;
    MarkTerminal(job, JobState::kSucceeded,
                 "deduplicated: param_hash already rendered by job " + std::to_string(producer),
                 producer);
    PropagateSuccess({&job});
    return true;
  }
  if (group->in_flight != 0 && group->in_flight != job.spec.id) {
    // An identical render is running: wait for its result instead of rendering twice.
    RemoveFromReady(job);
    job.parked = true;
    group->parked.push_back(job.spec.id);
    return true;
  }
  return false;
}

void SchedulerImpl::ConsiderReservation(const ReadyQueue::Head& head, const ClassKey& req,
                                        TimeMs now) {
  if (reservation_.active()) {
    if (reservation_.owner().job == head.key.job) {
      if (now - reservation_.planned_at_ms() < options_.gang_replan_ms) return;
    } else if (reservation_.owner() < head.key) {
      return;  // an earlier gang holds the reservation
    }
    ReleaseReservation();
  }
  reservation_.Plan(agents_, head.key, req, now);
}

}  // namespace farm::scheduler
