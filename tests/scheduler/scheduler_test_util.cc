#include "scheduler_test_util.h"

#include <algorithm>
#include <type_traits>
#include <utility>
#include <variant>

namespace farm::scheduler::testing {

Out Split(std::vector<Decision> decisions) {
  Out out;
  for (const Decision& d : decisions) {
    std::visit(
        [&out](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, Dispatch>) out.dispatches.push_back(v);
          if constexpr (std::is_same_v<T, CancelRequest>) out.cancels.push_back(v);
          if constexpr (std::is_same_v<T, AttemptEnded>) out.ended.push_back(v);
          if constexpr (std::is_same_v<T, Requeue>) out.requeues.push_back(v);
          if constexpr (std::is_same_v<T, JobFinished>) out.finished.push_back(v);
        },
        d);
  }
  out.all = std::move(decisions);
  return out;
}

const Dispatch* Out::DispatchOf(JobId job) const {
  for (const Dispatch& d : dispatches) {
    if (d.job == job) return &d;
  }
  return nullptr;
}

const JobFinished* Out::FinishedOf(JobId job) const {
  for (const JobFinished& f : finished) {
    if (f.job == job) return &f;
  }
  return nullptr;
}

std::vector<JobId> Out::DispatchedJobs() const {
  std::vector<JobId> jobs;
  for (const Dispatch& d : dispatches) jobs.push_back(d.job);
  return jobs;
}

JobSpec Job(JobId id, int priority) {
  JobSpec spec;
  spec.id = id;
  spec.sweep_id = 1;
  spec.kind = JobKind::kSynthetic;
  spec.priority = priority;
  return spec;
}

JobSpec Render(JobId id, const std::string& param_hash, bool force) {
  JobSpec spec = Job(id);
  spec.kind = JobKind::kRender;
  spec.param_hash = param_hash;
  spec.force = force;
  return spec;
}

AgentSpec Agent(const std::string& id, int slots, DeviceKind device, std::uint64_t memory) {
  AgentSpec spec;
  spec.id = id;
  spec.slots = slots;
  spec.device = device;
  spec.device_memory_bytes = memory;
  return spec;
}

SchedulerTest::SchedulerTest(SchedulerOptions options) {
  auto created = Scheduler::Create(clock_, options);
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  if (created.ok()) scheduler_ = std::move(created).value();
}

void SchedulerTest::Register(const AgentSpec& spec) {
  Status status = s().RegisterAgent(spec);
  ASSERT_TRUE(status.ok()) << status.ToString();
}

void SchedulerTest::Submit(const JobSpec& spec) {
  Status status = s().SubmitJob(spec);
  ASSERT_TRUE(status.ok()) << status.ToString();
}

void SchedulerTest::Submit(std::vector<JobSpec> specs) {
  Status status = s().SubmitJobs(std::move(specs));
  ASSERT_TRUE(status.ok()) << status.ToString();
}

Out SchedulerTest::Schedule() {
  s().Schedule();
  return Take();
}

Out SchedulerTest::Tick() {
  s().Tick();
  return Take();
}

void SchedulerTest::AdvanceWithHeartbeats(TimeMs ms, const std::vector<std::string>& alive) {
  while (ms > 0) {
    const TimeMs step = std::min<TimeMs>(ms, 1000);
    clock_.Advance(step);
    ms -= step;
    for (const std::string& agent : alive) {
      Status status = s().Heartbeat(agent);
      EXPECT_TRUE(status.ok()) << status.ToString();
    }
    s().Tick();
  }
}

ResultAck SchedulerTest::Report(const std::string& agent, LeaseRef lease, ResultKind kind,
                                const std::string& error) {
  auto ack = s().ReportResult(agent, ResultReport{lease, kind, error});
  EXPECT_TRUE(ack.ok()) << ack.status().ToString();
  return ack.ok() ? *ack : ResultAck{};
}

JobState SchedulerTest::StateOf(JobId job) { return InfoOf(job).state; }

JobInfo SchedulerTest::InfoOf(JobId job) {
  auto info = s().GetJob(job);
  EXPECT_TRUE(info.ok()) << info.status().ToString();
  return info.ok() ? *info : JobInfo{};
}

}  // namespace farm::scheduler::testing
