// Faults that lose or waste work, against farmd's real loop and database (in-process link,
// fake clock): an agent that reconnects without restarting keeps its leases, a busy
// refusal spends no attempt, and an offer dropped on the wire is requeued by the agent's
// next heartbeat and completes elsewhere. Each ends with the read-only ledger check.
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "farm_db_util.h"
#include "farmd_test_util.h"
#include "fault_test.h"

namespace farm_faults {
namespace {

namespace v1 = studiofarm::v1;
using farm::farmd::testing::Farm;
using farm::farmd::testing::TempDir;
using farm::farmd::testing::TestArtifact;

std::vector<TestArtifact> Output(const v1::LeaseRef& lease) {
  return {{"image", "output of job " + std::to_string(lease.job_id())}};
}

v1::Envelope Register(const std::string& id, int slots, std::uint64_t memory,
                      const std::vector<v1::LeaseRef>& held) {
  v1::Envelope envelope;
  v1::Register* reg = envelope.mutable_register_();
  reg->set_agent_id(id);
  reg->set_protocol_version(farm::farmd::kProtocolVersion);
  reg->set_hostname("host-" + id);
  reg->set_agent_version("test");
  reg->mutable_capabilities()->set_device_kind(v1::DEVICE_KIND_CPU);
  reg->mutable_capabilities()->set_device_memory_bytes(memory);
  reg->mutable_capabilities()->set_slots(static_cast<std::uint32_t>(slots));
  v1::HeldLeases* list = reg->mutable_held_leases();
  for (const v1::LeaseRef& lease : held) *list->add_leases() = lease;
  return envelope;
}

v1::Envelope Beat(std::uint64_t received_sequence, const std::vector<v1::LeaseRef>& held) {
  v1::Envelope envelope;
  envelope.mutable_heartbeat()->set_received_sequence(received_sequence);
  for (const v1::LeaseRef& lease : held) *envelope.mutable_heartbeat()->add_active_leases() = lease;
  return envelope;
}

std::int64_t Count(const std::string& database, const std::string& sql) {
  auto db = FarmDb::OpenReadOnly(database);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return -1;
  auto n = (*db)->Count(sql);
  EXPECT_TRUE(n.ok()) << n.status().ToString();
  return n.ok() ? *n : -1;
}

TEST(ReconnectFaultTest, ReconnectWithoutRestartKeepsLeasesAndRunsNothingTwice) {
  TempDir dir;
  Farm farm(dir.path(), farm::farmd::testing::PatientOptions());
  farm.Open();
  auto first = farm.Join("a", 2);
  const auto sweep = farm.Submit(2);
  std::vector<v1::LeaseRef> leases;
  for (int i = 0; i < 2; ++i) {
    auto offer = farm.Await(*first, v1::Envelope::kJobOffer);
    ASSERT_TRUE(offer.has_value());
    leases.push_back(offer->job_offer().lease());
  }
  // The connection drops; the same agent process connects again and says what it runs.
  auto second = farm.link().Connect("a");
  ASSERT_TRUE(second->Send(Register("a", 2, 0, leases)).ok());
  ASSERT_TRUE(farm.Await(*second, v1::Envelope::kWelcome).has_value());
  farm.Pump(10);
  // Nothing requeued: no new offer, no cancel.
  EXPECT_FALSE(farm.Await(*second, v1::Envelope::kJobOffer, 5).has_value());
  EXPECT_FALSE(farm.Await(*second, v1::Envelope::kCancel, 0).has_value());
  EXPECT_EQ(farm.coordinator().counters().leases_kept_on_register, 2u);
  EXPECT_NE(farm.coordinator().MetricsText().find("farm_leases_kept_on_reconnect_total 2"),
            std::string::npos);
  for (const v1::LeaseRef& lease : leases) {
    EXPECT_EQ(lease.attempt(), 1u);
    farm.Report(*second, lease, v1::RESULT_STATUS_SUCCEEDED, Output(lease));
  }
  for (int i = 0; i < 2; ++i) {
    auto ack = farm.Await(*second, v1::Envelope::kResultAck);
    ASSERT_TRUE(ack.has_value());
    EXPECT_TRUE(ack->result_ack().accepted());
  }
  ExpectEveryJobDoneOnce(farm.db_path().string(), sweep.sweep_id, 2);
  EXPECT_EQ(Count(farm.db_path().string(), "SELECT count(*) FROM attempts"), 2)
      << "the reconnect spent an attempt";
}

TEST(ReconnectFaultTest, StaleLeasesAreToldToStopOnReconnect) {
  TempDir dir;
  Farm farm(dir.path(), farm::farmd::testing::PatientOptions());
  farm.Open();
  auto a = farm.Join("a", 1);
  const auto sweep = farm.Submit(1);
  auto offer = farm.Await(*a, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());
  const v1::LeaseRef lease = offer->job_offer().lease();
  v1::LeaseRef stale = lease;
  stale.set_attempt(lease.attempt() + 5);  // a fencing token farmd never issued
  auto again = farm.link().Connect("a");
  ASSERT_TRUE(again->Send(Register("a", 1, 0, {lease, stale})).ok());
  auto cancel = farm.Await(*again, v1::Envelope::kCancel);
  ASSERT_TRUE(cancel.has_value());
  EXPECT_EQ(cancel->cancel().lease().attempt(), stale.attempt());
  farm.Report(*again, lease, v1::RESULT_STATUS_SUCCEEDED, Output(lease));
  auto ack = farm.Await(*again, v1::Envelope::kResultAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->result_ack().accepted());
  ExpectEveryJobDoneOnce(farm.db_path().string(), sweep.sweep_id, 1);
}

TEST(ReconnectFaultTest, BusyRefusalsSpendNoAttempt) {
  TempDir dir;
  auto options = farm::farmd::testing::PatientOptions();
  options.scheduler.max_attempts = 2;
  Farm farm(dir.path(), options);
  farm.Open();
  auto a = farm.Join("a", 1);
  const auto sweep = farm.Submit(1);
  // Four refusals as busy: more than max_attempts, yet the job is not failed.
  std::int64_t job = 0;
  for (int i = 0; i < 4; ++i) {
    auto offer = farm.Await(*a, v1::Envelope::kJobOffer);
    ASSERT_TRUE(offer.has_value()) << "refusal " << i;
    v1::Envelope refusal;
    *refusal.mutable_job_result()->mutable_lease() = offer->job_offer().lease();
    refusal.mutable_job_result()->set_status(v1::RESULT_STATUS_RELEASED);
    refusal.mutable_job_result()->set_error("all 1 slots of agent a are busy");
    refusal.mutable_job_result()->set_refused_busy(true);
    ASSERT_TRUE(a->Send(refusal).ok());
    ASSERT_TRUE(farm.Await(*a, v1::Envelope::kResultAck).has_value());
    // Paused until its heartbeat: no offer before.
    EXPECT_FALSE(farm.Await(*a, v1::Envelope::kJobOffer, 5).has_value());
    ASSERT_TRUE(a->Send(Beat(offer->sequence(), {})).ok());
    job = static_cast<std::int64_t>(offer->job_offer().lease().job_id());
  }
  EXPECT_EQ(farm.coordinator().counters().busy_refusals, 4u);
  EXPECT_NE(farm.coordinator().MetricsText().find("farm_attempts_uncounted_total{reason=\"busy\"} 4"),
            std::string::npos);
  // A restarted farmd reads them back as uncounted (attempts.counted) and still does not
  // fail the job.
  farm.Crash();
  farm.Open();
  auto restored = farm.coordinator().scheduler().GetJob(job);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->attempt_count, 4);
  EXPECT_EQ(restored->uncounted_attempts, 4);
  a = farm.Join("a", 1);
  auto offer = farm.Await(*a, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ(offer->job_offer().lease().attempt(), 5u);
  farm.Report(*a, offer->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED,
              Output(offer->job_offer().lease()));
  ASSERT_TRUE(farm.Await(*a, v1::Envelope::kResultAck).has_value());
  ExpectEveryJobDoneOnce(farm.db_path().string(), sweep.sweep_id, 1);
}

TEST(ReconnectFaultTest, OfferDroppedOnTheWireIsRequeuedWithinOneHeartbeat) {
  TempDir dir;
  auto options = farm::farmd::testing::PatientOptions();
  options.scheduler.heartbeat_interval_ms = 100;  // farmd's beats come sooner (fake clock)
  Farm farm(dir.path(), options);
  farm.Open();
  auto a = farm.link().Connect("a");
  ASSERT_TRUE(a->Send(Register("a", 1, 8ull << 30, {})).ok());
  ASSERT_TRUE(farm.Await(*a, v1::Envelope::kWelcome).has_value());
  const auto sweep = farm.Submit(1);
  auto dropped = farm.Await(*a, v1::Envelope::kJobOffer);
  ASSERT_TRUE(dropped.has_value());  // read here and thrown away: a never sees it
  const std::int64_t job = static_cast<std::int64_t>(dropped->job_offer().lease().job_id());
  // b joins; it is the better fit (less memory) once the job is queued again.
  auto b = farm.link().Connect("b");
  ASSERT_TRUE(b->Send(Register("b", 1, 1ull << 30, {})).ok());
  ASSERT_TRUE(farm.Await(*b, v1::Envelope::kWelcome).has_value());

  // A heartbeat built before the offer could arrive leaves it alone.
  ASSERT_TRUE(a->Send(Beat(dropped->sequence() - 1, {})).ok());
  farm.Pump(5);
  auto info = farm.coordinator().scheduler().GetJob(job);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, farm::scheduler::JobState::kLeased);
  EXPECT_EQ(info->attempt_count, 1);
  // farmd's next heartbeat reaches a: a has received everything up to it, and its
  // heartbeat does not list the lease.
  std::optional<v1::Envelope> later;
  for (int i = 0; i < 5 && !(later && later->sequence() > dropped->sequence()); ++i) {
    later = farm.Await(*a, v1::Envelope::kHeartbeat, 2000);
  }
  ASSERT_TRUE(later.has_value());
  ASSERT_GT(later->sequence(), dropped->sequence());
  ASSERT_TRUE(a->Send(Beat(later->sequence(), {})).ok());
  auto moved = farm.Await(*b, v1::Envelope::kJobOffer);
  ASSERT_TRUE(moved.has_value()) << "the lost offer was not requeued to b";
  EXPECT_EQ(moved->job_offer().lease().job_id(), dropped->job_offer().lease().job_id());
  EXPECT_EQ(moved->job_offer().lease().attempt(), 2u);
  EXPECT_EQ(farm.coordinator().counters().offers_lost, 1u);
  farm.Report(*b, moved->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED,
              Output(moved->job_offer().lease()));
  ASSERT_TRUE(farm.Await(*b, v1::Envelope::kResultAck).has_value());
  ExpectEveryJobDoneOnce(farm.db_path().string(), sweep.sweep_id, 1);
}

}  // namespace
}  // namespace farm_faults
