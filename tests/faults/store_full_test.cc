// A store that cannot take a write stops farmd (fail-stop), tested with a real failure:
// mid-sweep the test gives the running farmd a file-size limit (RLIMIT_FSIZE, set with
// prlimit(2) on its pid) at the offset where SQLite writes the next frame of the
// write-ahead log, so a coming commit fails in the kernel with EFBIG. farmd must exit with status 1 (not die of SIGXFSZ),
// naming the commit that failed, with nothing of that batch acknowledged. Restarted
// without the limit on the same database and artifact root, it gets the results that
// were not acknowledged from the agents (never restarted: they kept them in their
// outbox) and the sweep completes: every job succeeded exactly once, every result
// acknowledged before the failure was already on disk and still is, and every job's
// output file holds the bytes its job produced.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <thread>

#include "fault_test.h"
#include "test_farm_util.h"

namespace farm_faults {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kAgents = 2;
constexpr int kJobs = 600;
constexpr int kCpuMs = 1;
constexpr int kBytes = 2048;
// Room the limit leaves above farmd's log for the lines saying why it stopped (its log
// is a file, so the limit applies to it too).
constexpr std::uintmax_t kLogRoom = 256 * 1024;
// SQLite checkpoints the write-ahead log once it holds this many frames and then writes
// it again from its start (SQLite's default wal_autocheckpoint, which farmd keeps).
constexpr std::uintmax_t kCheckpointFrames = 1000;

using StoreFullTest = FaultTest;

std::uintmax_t FileSize(const fs::path& path) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::uint32_t BigEndian32(const std::string& bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

// Where a write-ahead log stands (SQLite's WAL format: a 32-byte header, then frames of a
// 24-byte header and one page; the frames of the current cycle carry the header's salts).
struct WalPosition {
  std::uintmax_t next_frame = 0;  // offset of the next frame SQLite writes
  std::uintmax_t checkpoint = 0;  // offset at which the log is checkpointed and rewound
};
farm::StatusOr<WalPosition> ReadWalPosition(const std::string& path) {
  const std::string wal = ReadFile(path);
  if (wal.size() < 32) return farm::NotFound(path + ": no write-ahead log header");
  const std::uintmax_t frame = 24 + BigEndian32(wal, 8);  // page size at offset 8
  const std::string salts = wal.substr(16, 8);
  WalPosition position;
  position.next_frame = 32;
  while (position.next_frame + frame <= wal.size() &&
         wal.compare(position.next_frame + 8, 8, salts) == 0) {
    position.next_frame += frame;
  }
  position.checkpoint = 32 + kCheckpointFrames * frame;
  return position;
}

// "job:attempt" of every result an agent's log says farmd acknowledged as accepted.
std::set<std::string> AcceptedAcks(const std::string& log) {
  static const std::regex kAck(R"(job=(\d+) attempt=(\d+) result acked \(accepted\))");
  std::set<std::string> acked;
  std::istringstream lines(ReadFile(log));
  std::string line;
  std::smatch match;
  while (std::getline(lines, line)) {
    if (std::regex_search(line, match, kAck)) acked.insert(match[1].str() + ":" + match[2].str());
  }
  return acked;
}

// "job:attempt" of the results farmd names in the line about the batch it could not commit.
std::set<std::string> FailedBatchResults(const std::string& farmd_log) {
  static const std::regex kResult(R"(job=(\d+) attempt=(\d+))");
  std::set<std::string> results;
  std::istringstream lines(farmd_log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("store failed: commit batch") == std::string::npos) continue;
    for (auto it = std::sregex_iterator(line.begin(), line.end(), kResult);
         it != std::sregex_iterator(); ++it) {
      results.insert((*it)[1].str() + ":" + (*it)[2].str());
    }
  }
  return results;
}

std::vector<std::string> Minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

TEST_F(StoreFullTest, CommitFailureStopsFarmdAndARestartLosesNothingAcknowledged) {
  auto farm = TestFarm::Create(dir_, {.allowed_agents = kAgents});
  ASSERT_TRUE(farm.ok()) << farm.status().ToString();
  TestFarm& f = **farm;
  ASSERT_TRUE(f.StartFarmd().ok());
  for (int i = 1; i <= kAgents; ++i) ASSERT_TRUE(f.StartAgent(i, 2).ok());
  auto sweep = f.SubmitSweep(kJobs, kCpuMs, kBytes);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString() << f.LogTails();
  auto db = FarmDb::OpenReadOnly(f.database());
  ASSERT_TRUE(db.ok()) << db.status().ToString();

  // A fifth of the sweep done (and acknowledged), then the limit.
  const bool started = WaitUntil(
      [&] {
        auto done = (*db)->SucceededJobs(*sweep);
        return done.ok() && static_cast<int>(done->size()) >= kJobs / 5;
      },
      seconds(60));
  ASSERT_TRUE(started) << "the sweep stalled before the limit was set\n" << f.LogTails();
  // The limit must be crossed before the log is next checkpointed and rewound (writes
  // below the limit succeed): wait for a position in the first half of a cycle, so that
  // farmd cannot finish the cycle between this read and the limit.
  std::uintmax_t limit = 0;
  WalPosition wal;
  const bool room = WaitUntil(
      [&] {
        auto position = ReadWalPosition(f.database() + "-wal");
        if (!position.ok()) return false;
        wal = *position;
        limit = std::max(wal.next_frame, FileSize(f.farmd_log()) + kLogRoom);
        return limit < wal.checkpoint / 2;
      },
      seconds(30), milliseconds(20));
  ASSERT_TRUE(room) << "no limit below the write-ahead log's checkpoint at " << wal.checkpoint
                    << " bytes (next frame at " << wal.next_frame << ", farmd log "
                    << FileSize(f.farmd_log()) << " bytes)";
  const rlimit cap{limit, limit};
  ASSERT_EQ(::prlimit(f.farmd_pid(), RLIMIT_FSIZE, &cap, nullptr), 0) << std::strerror(errno);

  ASSERT_TRUE(WaitUntil([&] { return !f.FarmdRunning(); }, seconds(60)))
      << "farmd kept running under a file-size limit of " << limit << " bytes\n"
      << f.LogTails();
  ASSERT_TRUE(f.farmd_exit_code().has_value());
  EXPECT_EQ(*f.farmd_exit_code(), 1) << "expected exit status 1 after logging the failure "
                                     << "(128+25 = SIGXFSZ not ignored)\n" << f.LogTails();
  const std::string farmd_log = ReadFile(f.farmd_log());
  EXPECT_TRUE(std::regex_search(farmd_log, std::regex("store failed: .*commit.*File too large")))
      << "no log line names the failed commit and its OS error:\n" << f.LogTails(30);

  // What the agents were told before farmd stopped (the last acks may still be in
  // flight to them: give them a moment), and what is on disk now.
  std::this_thread::sleep_for(milliseconds(500));
  std::set<std::string> acked;
  for (int i = 1; i <= kAgents; ++i) acked.merge(AcceptedAcks(f.agent_log(i)));
  ASSERT_FALSE(acked.empty()) << "no result was acknowledged before the limit\n" << f.LogTails();
  auto stored = (*db)->Texts("SELECT job_id || ':' || attempt FROM attempts"
                             " WHERE outcome = 'succeeded'");
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  const std::vector<std::string> acked_not_stored = Minus(acked, *stored);
  EXPECT_TRUE(acked_not_stored.empty())
      << acked_not_stored.size() << " results acknowledged but not on disk: "
      << Join(acked_not_stored);
  auto done_at_failure = (*db)->SucceededJobs(*sweep);
  ASSERT_TRUE(done_at_failure.ok()) << done_at_failure.status().ToString();
  EXPECT_LT(static_cast<int>(done_at_failure->size()), kJobs) << "the limit came after the sweep";
  // The batch that failed: none of its results was acknowledged, none is on disk.
  const std::set<std::string> failed_batch = FailedBatchResults(farmd_log);
  for (const std::string& result : failed_batch) {
    EXPECT_FALSE(acked.count(result)) << result << " acknowledged from the failed batch";
    EXPECT_FALSE(stored->count(result)) << result << " stored from the failed batch";
  }
  std::printf("limit %llu bytes: %zu jobs done, %zu results acknowledged, %zu in the failed "
              "batch\n",
              static_cast<unsigned long long>(limit), done_at_failure->size(), acked.size(),
              failed_batch.size());

  // Restarted with room: the same agents resend what was not acknowledged.
  ASSERT_TRUE(f.StartFarmd().ok()) << f.LogTails();
  auto counts = f.WaitForSweep(*sweep, seconds(120));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->succeeded, kJobs);
  for (int i = 1; i <= kAgents; ++i) EXPECT_TRUE(f.AgentRunning(i)) << "agent-" << i << " died";
  f.StopAll();

  ExpectEveryJobDoneOnce(f.database(), *sweep, kJobs);
  auto final_stored = (*db)->Texts("SELECT job_id || ':' || attempt FROM attempts"
                                   " WHERE outcome = 'succeeded'");
  ASSERT_TRUE(final_stored.ok()) << final_stored.status().ToString();
  const std::vector<std::string> lost = Minus(acked, *final_stored);
  EXPECT_TRUE(lost.empty()) << lost.size() << " acknowledged results lost: " << Join(lost);

  // Every job's output: the artifact with the digest of the bytes the job produced, its
  // file holding exactly those bytes (none damaged by the failed batch's files).
  ExpectEveryArtifactIsItsJobsOutput(f.database(), f.artifact_root(), *sweep);
}

}  // namespace
}  // namespace farm_faults
