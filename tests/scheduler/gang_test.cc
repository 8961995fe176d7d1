// Gang jobs: all-or-nothing placement, reservation against starvation, backfilling.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;

JobSpec Gang(JobId id, int size, int priority = 0) {
  JobSpec spec = Job(id, priority);
  spec.kind = JobKind::kTrain;
  spec.gang_size = size;
  return spec;
}

class GangTest : public testing::SchedulerTest {
 protected:
  explicit GangTest(SchedulerOptions options = {}) : SchedulerTest(options) {}

  // Completes the oldest running lease, schedules, and queues what was dispatched.
  // Returns false when nothing was running.
  bool CompleteOldest() {
    if (running_.empty()) return false;
    Dispatch d = running_.front();
    running_.pop_front();
    EXPECT_EQ(Succeed(d).verdict, ResultVerdict::kAccepted);
    for (const Dispatch& next : Schedule().dispatches) {
      order_.push_back(next.job);
      running_.push_back(next);
    }
    return true;
  }

  // Completes the running lease of `job`, schedules, and queues what was dispatched.
  void Complete(JobId job) {
    auto it = std::find_if(running_.begin(), running_.end(),
                           [job](const Dispatch& d) { return d.job == job; });
    ASSERT_NE(it, running_.end()) << "job " << job << " is not running";
    Dispatch d = *it;
    running_.erase(it);
    EXPECT_EQ(Succeed(d).verdict, ResultVerdict::kAccepted);
    Start();
  }

  const Dispatch* Running(JobId job) const {
    for (const Dispatch& d : running_) {
      if (d.job == job) return &d;
    }
    return nullptr;
  }

  void Start() {
    for (const Dispatch& d : Schedule().dispatches) {
      order_.push_back(d.job);
      running_.push_back(d);
    }
  }

  std::deque<Dispatch> running_;
  std::vector<JobId> order_;
};

TEST_F(GangTest, ReservesAllRanksOrNone) {
  Register(Agent("a", 2));
  Submit(Gang(1, 3));
  EXPECT_TRUE(Schedule().dispatches.empty());
  EXPECT_EQ(s().ActiveLeases(), 0u);
  auto a = s().GetAgent("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->busy_slots, 0);  // nothing half-placed

  Register(Agent("b", 1));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  const Dispatch& d = out.dispatches[0];
  ASSERT_EQ(d.placements.size(), 3u);
  int on_a = 0;
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_EQ(d.placements[rank].rank, rank);
    on_a += d.placements[rank].agent == "a";
  }
  EXPECT_EQ(on_a, 2);
  EXPECT_EQ(s().ActiveLeases(), 1u);
}

TEST_F(GangTest, RanksNeverMixDeviceKinds) {
  Register(Agent("cpu", 2, DeviceKind::kCpu));
  Register(Agent("gpu", 1, DeviceKind::kCuda));
  Submit(Gang(1, 3));
  EXPECT_TRUE(Schedule().dispatches.empty());
  Register(Agent("gpu2", 2, DeviceKind::kCuda));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  for (const Placement& p : out.dispatches[0].placements) EXPECT_NE(p.agent, "cpu");
}

TEST_F(GangTest, ResultFromAnyRankIsAcceptedOnce) {
  Register(Agent("a", 1));
  Register(Agent("b", 1));
  Submit(Gang(1, 2));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  const LeaseRef lease = out.dispatches[0].lease();
  EXPECT_EQ(Report("b", lease).verdict, ResultVerdict::kAccepted);
  EXPECT_EQ(Report("a", lease).verdict, ResultVerdict::kDuplicate);
  EXPECT_EQ(StateOf(1), JobState::kSucceeded);
}

TEST_F(GangTest, SuccessCancelsThePartnerSeatsAndIgnoresTheirLateResults) {
  Register(Agent("a", 1));
  Register(Agent("b", 1));
  Register(Agent("c", 1));
  Submit(Gang(1, 3));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  const Dispatch d = out.dispatches[0];
  const std::string reporter = d.placements.at(0).agent;
  EXPECT_EQ(Report(reporter, d.lease()).verdict, ResultVerdict::kAccepted);
  out = Take();
  ASSERT_EQ(out.cancels.size(), 2u);
  for (const CancelRequest& c : out.cancels) {
    EXPECT_NE(c.agent, reporter);
    EXPECT_EQ(c.job, 1);
    EXPECT_EQ(c.attempt, d.attempt);
    EXPECT_EQ(c.reason, "gang finished");
  }
  // Every slot is free at once, and the partners' cancelled results change nothing.
  for (const std::string name : {"a", "b", "c"}) EXPECT_EQ(s().GetAgent(name)->busy_slots, 0);
  for (std::size_t r = 1; r < d.placements.size(); ++r) {
    EXPECT_EQ(Report(d.placements[r].agent, d.lease(), ResultKind::kCancelled).verdict,
              ResultVerdict::kDuplicate);
  }
  EXPECT_EQ(StateOf(1), JobState::kSucceeded);
  EXPECT_TRUE(Take().cancels.empty());
}

TEST_F(GangTest, SuccessOnOneAgentCancelsItsOwnPartnerSeats) {
  Register(Agent("a", 2));
  Submit(Gang(1, 2));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  EXPECT_EQ(Report("a", out.dispatches[0].lease()).verdict, ResultVerdict::kAccepted);
  out = Take();
  ASSERT_EQ(out.cancels.size(), 1u);
  EXPECT_EQ(out.cancels[0].agent, "a");
  EXPECT_EQ(s().GetAgent("a")->busy_slots, 0);
}

TEST_F(GangTest, SingleSeatSuccessSendsNoCancel) {
  Register(Agent("a", 1));
  Submit(Gang(1, 1));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  EXPECT_EQ(Report("a", out.dispatches[0].lease()).verdict, ResultVerdict::kAccepted);
  EXPECT_TRUE(Take().cancels.empty());
}

TEST_F(GangTest, LosingOneRankRequeuesTheGangAndCancelsTheOthers) {
  Register(Agent("a", 1));
  Register(Agent("b", 1));
  Submit(Gang(1, 2));
  ASSERT_EQ(Schedule().dispatches.size(), 1u);
  ASSERT_TRUE(s().DeregisterAgent("b", "shutdown").ok());
  testing::Out out = Take();
  ASSERT_EQ(out.cancels.size(), 1u);
  EXPECT_EQ(out.cancels[0].agent, "a");
  ASSERT_EQ(out.requeues.size(), 1u);
  EXPECT_EQ(StateOf(1), JobState::kQueued);
  Register(Agent("c", 1));
  out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  EXPECT_EQ(out.dispatches[0].attempt, 2);
}

TEST_F(GangTest, ReservationStopsSmallJobsFromStarvingTheGang) {
  Register(Agent("a", 3));
  Register(Agent("b", 2));
  Submit({Job(1), Job(2), Job(3), Job(4), Job(5)});
  Start();
  for (JobId id : {1, 2, 3}) ASSERT_EQ(Running(id)->placements[0].agent, "a");
  Submit(Gang(100, 3));
  std::vector<JobSpec> small;
  for (JobId id = 6; id < 40; ++id) small.push_back(Job(id));
  Submit(small);
  Start();
  Complete(1);  // a slot frees on a: the gang reserves a; small jobs may not take it
  EXPECT_EQ(s().GetAgent("a")->reserved_slots, 3);
  EXPECT_EQ(StateOf(6), JobState::kQueued);
  Complete(4);  // b is not reserved: small jobs backfill it while the gang waits
  Complete(5);
  ASSERT_NE(Running(6), nullptr);
  ASSERT_NE(Running(7), nullptr);
  EXPECT_EQ(Running(6)->placements[0].agent, "b");
  EXPECT_EQ(Running(7)->placements[0].agent, "b");
  Complete(2);  // two of a's slots are free, both held for the gang
  EXPECT_EQ(StateOf(8), JobState::kQueued);
  EXPECT_EQ(StateOf(100), JobState::kQueued);
  Complete(3);  // a drained: the gang starts there
  ASSERT_NE(Running(100), nullptr);
  for (const Placement& p : Running(100)->placements) EXPECT_EQ(p.agent, "a");
  EXPECT_EQ(s().GetAgent("a")->reserved_slots, 0);  // released once the gang started
}

TEST_F(GangTest, HigherPriorityJobsMayUseReservedSlots) {
  Register(Agent("a", 2));
  Submit({Job(1), Job(2)});
  Start();
  Submit({Gang(100, 2), Job(3)});
  Start();
  CompleteOldest();  // a has a free slot, held for the gang: job 3 may not take it
  EXPECT_EQ(StateOf(3), JobState::kQueued);
  auto a = s().GetAgent("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->reserved_slots, 2);
  Submit(Job(4, /*priority=*/10));
  testing::Out out = Schedule();
  EXPECT_EQ(out.DispatchedJobs(), std::vector<JobId>{4});
}

TEST_F(GangTest, GangBiggerThanTheFarmBlocksNobody) {
  Register(Agent("a", 2));
  Register(Agent("b", 2));
  Submit(Gang(100, 8));
  std::vector<JobSpec> small;
  for (JobId id = 1; id <= 4; ++id) small.push_back(Job(id));
  Submit(small);
  testing::Out out = Schedule();
  EXPECT_EQ(out.DispatchedJobs(), (std::vector<JobId>{1, 2, 3, 4}));
  EXPECT_EQ(s().GetAgent("a")->reserved_slots + s().GetAgent("b")->reserved_slots, 0);
}

TEST_F(GangTest, LostReservedAgentDropsTheReservation) {
  Register(Agent("a", 2));
  Register(Agent("b", 1));
  Submit({Job(1), Job(2), Job(3)});
  Start();
  ASSERT_EQ(Running(3)->placements[0].agent, "b");
  Submit({Gang(100, 2), Job(4)});
  Complete(3);  // b frees; the gang reserves b's free slot and one of a's
  EXPECT_EQ(s().GetAgent("b")->reserved_slots, 1);
  EXPECT_EQ(s().GetAgent("a")->reserved_slots, 1);
  EXPECT_EQ(StateOf(4), JobState::kQueued);
  ASSERT_TRUE(s().DeregisterAgent("a", "").ok());
  EXPECT_EQ(s().GetAgent("b")->reserved_slots, 0);
}

class GangWithoutReservationTest : public GangTest {
 protected:
  static SchedulerOptions NoReservation() {
    SchedulerOptions options;
    options.gang_reservation = false;
    return options;
  }
  GangWithoutReservationTest() : GangTest(NoReservation()) {}
};

// The control for ReservationStopsSmallJobsFromStarvingTheGang: without the reservation
// every freed slot goes to a small job and the gang never sees two free at once.
TEST_F(GangWithoutReservationTest, SmallJobsOvertakeTheGang) {
  Register(Agent("a", 2));
  Register(Agent("b", 2));
  Submit({Job(1), Job(2), Job(3), Job(4)});
  Start();
  Submit(Gang(100, 2));
  std::vector<JobSpec> small;
  for (JobId id = 5; id < 40; ++id) small.push_back(Job(id));
  Submit(small);
  Start();
  for (int step = 0; step < 10; ++step) CompleteOldest();
  EXPECT_EQ(StateOf(100), JobState::kQueued);
}

}  // namespace
}  // namespace farm::scheduler
