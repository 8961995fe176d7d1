// Randomized, seeded: registrations, deaths, restarts, results (duplicate, stale, from
// strangers), cancels, coordinator crashes with Restore, and clock advances over
// thousands of jobs. A model built only from the decisions checks the invariants:
// no job has two live leases, no result is accepted twice, slots are never overbooked,
// children run only after their parents succeeded, and every job ends in exactly one
// terminal state.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <variant>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::kGiB;

struct SimAgent {
  AgentSpec spec;
  bool alive = false;          // heartbeats and answers
  std::vector<LeaseRef> work;  // leases it was offered (one entry per rank)
};

class PropertyTest : public ::testing::TestWithParam<std::uint64_t> {
 protected:
  void SetUp() override {
    rng_.seed(GetParam());
    Recreate();
  }

  void Recreate() {
    auto created = Scheduler::Create(clock_, {});
    ASSERT_TRUE(created.ok());
    s_ = std::move(created).value();
  }

  int Rand(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  // ---- the model ----
  void Drain() {
    for (const Decision& d : s_->TakeDecisions())
      std::visit([this](const auto& v) { Apply(v); }, d);
  }
  void Apply(const Dispatch& d) {
    const JobSpec& spec = specs_.at(d.job);
    ASSERT_EQ(open_.count(d.job), 0u) << "job " << d.job << " got a second live lease";
    ASSERT_EQ(finished_.count(d.job), 0u) << "finished job " << d.job << " dispatched";
    ASSERT_GT(d.attempt, last_attempt_[d.job]);
    last_attempt_[d.job] = d.attempt;
    ASSERT_EQ(static_cast<int>(d.placements.size()), spec.gang_size);
    for (JobId parent : spec.deps) {
      ASSERT_EQ(finished_[parent], JobState::kSucceeded) << d.job << " ran before " << parent;
    }
    for (const Placement& p : d.placements) {
      SimAgent& agent = agents_.at(p.agent);
      ASSERT_LE(++busy_[p.agent], agent.spec.slots) << p.agent << " overbooked";
      agent.work.push_back(d.lease());
    }
    open_[d.job] = d;
    ++stats_.dispatches;
  }
  void Apply(const AttemptEnded& e) {
    auto it = open_.find(e.job);
    ASSERT_NE(it, open_.end());
    ASSERT_EQ(it->second.attempt, e.attempt);
    for (const Placement& p : it->second.placements) --busy_[p.agent];
    open_.erase(it);
    ++stats_.ended[static_cast<int>(e.outcome)];
  }
  void Apply(const Requeue& r) {
    ASSERT_EQ(open_.count(r.job), 0u);
    ASSERT_EQ(finished_.count(r.job), 0u);
  }
  void Apply(const JobFinished& f) {
    ASSERT_TRUE(IsTerminal(f.state));
    ASSERT_TRUE(finished_.emplace(f.job, f.state).second) << "job " << f.job << " finished twice";
    if (f.linked_to) {
      ASSERT_EQ(specs_.at(f.job).kind, JobKind::kRender);
    }
  }
  void Apply(const CancelRequest& c) {
    // The agent stops the job; it may or may not confirm (FlushAcks).
    std::vector<LeaseRef>& work = agents_.at(c.agent).work;
    auto it = std::find(work.begin(), work.end(), LeaseRef{c.job, c.attempt});
    if (it == work.end()) return;
    work.erase(it);
    pending_acks_.emplace_back(c.agent, LeaseRef{c.job, c.attempt});
  }
  void FlushAcks() {
    while (!pending_acks_.empty()) {
      auto acks = std::move(pending_acks_);
      pending_acks_.clear();
      for (const auto& [agent, lease] : acks) {
        if (agents_.at(agent).alive && Chance(0.5))
          Report(agent, {lease, ResultKind::kCancelled, ""});
      }
    }
  }

  // ---- actions ----
  void SubmitBatch() {
    std::vector<JobSpec> batch;
    for (int n = Rand(1, 40); n > 0 && next_job_ <= kJobs; --n) {
      JobSpec spec;
      spec.id = next_job_++;
      spec.sweep_id = Rand(1, 5);
      spec.priority = Rand(0, 3);
      const int kind = Rand(0, 9);
      spec.kind = kind < 5 ? JobKind::kRender : kind < 6 ? JobKind::kTrain : JobKind::kScore;
      spec.param_hash = "h" + std::to_string(Rand(1, 400));
      spec.force = Chance(0.05);
      if (spec.kind == JobKind::kTrain) spec.gang_size = Rand(1, 3);
      if (Chance(0.2)) spec.device = Chance(0.5) ? DeviceKind::kCpu : DeviceKind::kCuda;
      if (Chance(0.3)) spec.min_device_memory_bytes = Rand(1, 20) * kGiB;
      for (int m = Rand(0, 2); m > 0; --m)
        spec.required_models.push_back("m" + std::to_string(Rand(1, 6)));
      if (spec.id > 10 && Chance(0.3)) {
        for (int k = Rand(1, 2); k > 0; --k)
          spec.deps.push_back(spec.id - Rand(1, std::min<int>(200, spec.id - 1)));
      }
      specs_[spec.id] = spec;
      batch.push_back(spec);
    }
    ASSERT_TRUE(s_->SubmitJobs(batch).ok());
  }

  AgentSpec RandomAgent(const std::string& id) {
    AgentSpec spec;
    spec.id = id;
    spec.device = Chance(0.5) ? DeviceKind::kCpu : DeviceKind::kCuda;
    spec.device_memory_bytes = std::uint64_t{8} << Rand(0, 4);  // 8..128, in GiB below
    spec.device_memory_bytes *= kGiB;
    spec.slots = Rand(1, 4);
    for (int m = Rand(0, 3); m > 0; --m)
      spec.cached_models.push_back("m" + std::to_string(Rand(1, 6)));
    spec.can_fetch_models = !Chance(0.1);
    return spec;
  }

  void Register(SimAgent& agent) {
    ASSERT_TRUE(s_->RegisterAgent(agent.spec).ok());
    agent.alive = true;
    agent.work.clear();  // a restarted agent forgot everything
    Drain();
  }

  void Answer(SimAgent& agent, bool only_success) {
    if (agent.work.empty()) return;
    const std::size_t i = Rand(0, static_cast<int>(agent.work.size()) - 1);
    const LeaseRef lease = agent.work[i];
    agent.work.erase(agent.work.begin() + i);
    const int roll = Rand(0, 99);
    ResultReport report{lease, ResultKind::kSucceeded, ""};
    if (!only_success && roll >= 70)
      report.kind = roll < 88 ? ResultKind::kFailed : ResultKind::kReleased;
    if (report.kind == ResultKind::kFailed) report.error = "boom " + std::to_string(roll);
    const int repeats = Chance(0.1) ? 2 : 1;
    for (int r = 0; r < repeats; ++r) Report(agent.spec.id, report);
  }

  // Sends a result and checks it against the model's fencing.
  void Report(const std::string& agent, const ResultReport& report) {
    auto it = open_.find(report.lease.job);
    bool holder = false;
    if (it != open_.end() && it->second.attempt == report.lease.attempt) {
      for (const Placement& p : it->second.placements) holder |= p.agent == agent;
    }
    auto ack = s_->ReportResult(agent, report);
    if (!ack.ok()) {
      // Only an agent this scheduler never saw (one that died before a crash) is refused.
      ASSERT_EQ(ack.status().code(), StatusCode::kNotFound) << ack.status().ToString();
      ASSERT_FALSE(s_->GetAgent(agent).ok()) << ack.status().ToString();
      ASSERT_FALSE(holder);
      return;
    }
    const bool accepted = ack->verdict == ResultVerdict::kAccepted;
    ++stats_.verdicts[static_cast<int>(ack->verdict)];
    stats_.after_cancel += ack->after_cancel;
    ASSERT_EQ(accepted, holder) << "job " << report.lease.job << " attempt " << report.lease.attempt
                                << " from " << agent << ": " << ack->reason;
    if (accepted) {
      ASSERT_TRUE(accepted_.emplace(report.lease.job, report.lease.attempt).second);
    } else if (accepted_.count({report.lease.job, report.lease.attempt})) {
      ASSERT_EQ(ack->verdict, ResultVerdict::kDuplicate);
    }
    Drain();
  }

  void Crash() {
    ++stats_.crashes;
    // farmd dies; the database holds what the model holds. Rebuild from GetJob.
    RestoreInput input;
    for (const auto& [id, spec] : specs_) {
      auto info = s_->GetJob(id);
      if (!info.ok()) continue;  // not submitted yet
      RestoredJob job;
      job.spec = info->spec;
      job.state = info->state;
      job.attempt_count = info->attempt_count;
      job.reason = info->reason;
      job.linked_to = info->linked_to;
      for (const AttemptRecord& rec : info->attempts) {
        if (rec.outcome) job.attempts.push_back(rec);
        if (!rec.outcome && info->lease && info->lease->attempt == rec.attempt) {
          job.lease =
              RestoredLease{rec.attempt, rec.agents, rec.leased_at_ms, info->lease_deadline_ms};
        }
      }
      if (job.state == JobState::kBlocked) job.state = JobState::kQueued;
      input.jobs.push_back(std::move(job));
    }
    Recreate();
    ASSERT_TRUE(s_->Restore(std::move(input)).ok());
    Drain();
    for (auto& [id, agent] : agents_) {
      if (!agent.alive) continue;
      ASSERT_TRUE(s_->RegisterAgent(agent.spec).ok());  // reconnects; keeps its work
      Drain();
    }
  }

  void Step(bool chaos) {
    const int op = Rand(0, 99);
    std::vector<std::string> ids;
    for (auto& [id, agent] : agents_) ids.push_back(id);
    SimAgent& agent = agents_.at(ids[Rand(0, static_cast<int>(ids.size()) - 1)]);
    if (chaos && op < 10) {
      SubmitBatch();
    } else if (chaos && op < 13) {
      Register(agent);  // new or restarted agent
    } else if (chaos && op < 15) {
      agent.alive = false;  // crashes silently; keeps its work list for zombie results
    } else if (chaos && op < 17 && !agent.work.empty()) {
      const LeaseRef lease = agent.work[Rand(0, static_cast<int>(agent.work.size()) - 1)];
      Report(ids[Rand(0, static_cast<int>(ids.size()) - 1)], {lease, ResultKind::kSucceeded, ""});
    } else if (chaos && op < 19) {
      const JobId job = Rand(1, std::max<int>(1, next_job_ - 1));
      if (specs_.count(job)) {
        ASSERT_TRUE(s_->CancelJob(job, "random").ok());
      }
    } else if (chaos && op == 19 && Chance(0.1)) {
      const Status status = s_->CancelSweep(Rand(1, 5), "random");
      ASSERT_TRUE(status.ok() || status.code() == StatusCode::kNotFound) << status.ToString();
    } else if (chaos && op == 20 && Chance(0.2)) {
      Crash();
    } else if (chaos && op == 21 && !agent.work.empty()) {
      agent.work.erase(agent.work.begin());  // a lost offer: the lease must expire
    } else if (op < 75) {
      if (agent.alive || (chaos && Chance(0.2))) Answer(agent, !chaos);  // zombies too
    } else {
      clock_.Advance(Rand(0, chaos ? 1500 : 1000));
      for (auto& [id, a] : agents_) {
        if (!a.alive) continue;
        const std::vector<LeaseRef> active = a.work;  // leases it is not running expire
        if (s_->Heartbeat(id, active).code() == StatusCode::kFailedPrecondition) Register(a);
      }
      s_->Tick();
    }
    Drain();
    FlushAcks();
  }

  static constexpr JobId kJobs = 3000;
  std::mt19937_64 rng_;
  FakeClock clock_;
  std::unique_ptr<Scheduler> s_;
  JobId next_job_ = 1;
  std::map<std::string, SimAgent> agents_;
  std::map<JobId, JobSpec> specs_;
  std::map<JobId, Dispatch> open_;
  std::map<JobId, JobState> finished_;
  std::map<JobId, int> last_attempt_;
  std::map<std::string, int> busy_;
  std::set<std::pair<JobId, int>> accepted_;
  std::vector<std::pair<std::string, LeaseRef>> pending_acks_;
  struct {
    int dispatches = 0;
    int verdicts[3] = {0, 0, 0};
    int after_cancel = 0;
    int crashes = 0;
    int ended[6] = {0, 0, 0, 0, 0, 0};
  } stats_;
};

TEST_P(PropertyTest, InvariantsHoldUnderChaos) {
  for (int i = 0; i < 12; ++i) {
    SimAgent agent;
    agent.spec = RandomAgent("agent-" + std::to_string(i));
    agents_[agent.spec.id] = agent;
    Register(agents_[agent.spec.id]);
  }
  while (next_job_ <= kJobs) {
    for (int i = 0; i < 100; ++i) Step(/*chaos=*/true);
    if (HasFatalFailure()) return;
  }
  // Calm: a big agent of each kind joins, every live agent answers with success.
  for (DeviceKind kind : {DeviceKind::kCpu, DeviceKind::kCuda}) {
    SimAgent agent;
    agent.spec.id = std::string("final-") + Name(kind);
    agent.spec.device = kind;
    agent.spec.device_memory_bytes = 128 * kGiB;
    agent.spec.slots = 4;
    agents_[agent.spec.id] = agent;
    Register(agents_[agent.spec.id]);
  }
  for (auto& [id, agent] : agents_) {
    if (!agent.alive) Register(agent);
  }
  for (int i = 0; i < 400'000 && finished_.size() < specs_.size(); ++i) {
    Step(/*chaos=*/false);
    if (HasFatalFailure()) return;
  }
  ASSERT_EQ(finished_.size(), specs_.size()) << "jobs never finished";
  StateCounts end = s_->CountsByState();
  std::printf(
      "seed %llu: %zu jobs, %d dispatches, results accepted %d (after cancel %d) duplicate %d "
      "stale %d, %d crashes; succeeded %zu failed %zu cancelled %zu skipped %zu\n",
      static_cast<unsigned long long>(GetParam()), specs_.size(), stats_.dispatches,
      stats_.verdicts[0], stats_.after_cancel, stats_.verdicts[1], stats_.verdicts[2],
      stats_.crashes, end[JobState::kSucceeded], end[JobState::kFailed], end[JobState::kCancelled],
      end[JobState::kSkipped]);
  std::printf("  attempts ended:");
  for (int o = 0; o < 6; ++o) {
    std::printf(" %s %d", Name(static_cast<AttemptOutcome>(o)), stats_.ended[o]);
  }
  std::printf("\n");
  for (int i = 0; i < 2000 && !open_.empty(); ++i) Step(false);  // drain cancel leases
  EXPECT_TRUE(open_.empty());
  EXPECT_EQ(s_->ActiveLeases(), 0u);
  StateCounts counts = s_->CountsByState();
  EXPECT_EQ(counts.total(), specs_.size());
  EXPECT_EQ(counts[JobState::kQueued] + counts[JobState::kBlocked] + counts[JobState::kLeased], 0u);
  for (const auto& [id, state] : finished_) {
    ASSERT_EQ(s_->GetJob(id)->state, state) << id;
    const JobSpec& spec = specs_.at(id);
    bool parents_ok = true;
    for (JobId parent : spec.deps) parents_ok &= finished_.at(parent) == JobState::kSucceeded;
    if (state == JobState::kSucceeded) {
      EXPECT_TRUE(parents_ok) << id;
    }
    if (state == JobState::kSkipped) {
      EXPECT_FALSE(parents_ok) << id;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, PropertyTest, ::testing::Values(1, 2, 3, 4, 5, 20240101));

}  // namespace
}  // namespace farm::scheduler
