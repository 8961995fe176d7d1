// Read-only stores: readable while another process holds the write lock, never writing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "farm/store/store.h"
#include "store_test_util.h"

namespace farm::store {
namespace {

using ::testing::HasSubstr;
using testing_util::OpenOrDie;
using testing_util::Row;
using testing_util::SampleRender;
using testing_util::TempDir;

std::int64_t CountRenders(Store& store) {
  auto renders = store.ListRenders({});
  EXPECT_TRUE(renders.ok()) << renders.status().ToString();
  return renders.ok() ? static_cast<std::int64_t>(renders->size()) : -1;
}

// The child: opens the database for writing, inserts 5 renders inside an open write
// transaction, tells the parent (byte on `ready`), waits for `go`, commits and exits.
[[noreturn]] void RunWriter(const std::string& path, int ready, int go) {
  int code = 0;
  {
    auto store = Store::Open(path, OpenMode::kReadWrite);
    if (!store.ok()) _exit(10);
    auto transaction = (*store)->BeginWrite();
    if (!transaction.ok()) _exit(11);
    std::vector<NewRender> renders;
    for (int i = 100; i < 105; ++i) renders.push_back(Row(SampleRender(i)));
    if (!(*store)->InsertRenders(renders).ok()) _exit(12);
    char byte = 'r';
    if (write(ready, &byte, 1) != 1) _exit(13);
    if (read(go, &byte, 1) != 1) _exit(14);
    if (!transaction->Commit().ok()) code = 15;
  }
  _exit(code);
}

TEST(StoreReadOnlyTest, ReadsWhileAnotherProcessHoldsTheWriteLock) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  {
    auto store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->InsertRenders({Row(SampleRender(1)), Row(SampleRender(2))}).ok());
  }
  int ready[2];
  int go[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(go), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) RunWriter(path, ready[1], go[0]);

  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);  // the writer now holds an open transaction
  StoreOptions quick;
  quick.busy_timeout_ms = 200;
  auto reader = Store::Open(path, OpenMode::kReadOnly, quick);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(CountRenders(**reader), 2);  // committed rows only
  auto info = (*reader)->Info();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(info->read_only);

  // A second writer cannot get the lock and says so instead of hanging.
  auto writer = Store::Open(path, OpenMode::kReadWrite, quick);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  auto blocked = (*writer)->InsertRenders({Row(SampleRender(50))});
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(blocked.status().message(), HasSubstr(path));

  ASSERT_EQ(write(go[1], "g", 1), 1);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFEXITED(wait_status));
  EXPECT_EQ(WEXITSTATUS(wait_status), 0);
  EXPECT_EQ(CountRenders(**reader), 7);  // a new read sees the commit
  for (int fd : {ready[0], ready[1], go[0], go[1]}) close(fd);
}

TEST(StoreReadOnlyTest, RefusesEveryWrite) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  const auto size_before = std::filesystem::file_size(path);
  auto store = Store::Open(path, OpenMode::kReadOnly);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Store& reader = **store;
  EXPECT_TRUE(reader.read_only());

  std::vector<Status> refused = {
      reader.InsertRenders({Row(SampleRender(1))}).status(),
      reader.CreateSweep({"s", "", 0, {}}).status(),
      reader.InsertJobs(1, {}).status(),
      reader.SetJobState(1, JobState::kFailed),
      reader.StartAttempt(1, "a", 0).status(),
      reader.InsertArtifact({std::string(64, 'a'), 1, "x", "image/png"}).status(),
      reader.CreateIdentity({"ana", "sks", {}}).status(),
      reader.InsertScores({}).status(),
      reader.UpsertAgent({"a", "h", "cpu", 1, 1, "v"}),
      reader.BeginWrite().status(),
      reader.Migrate().status(),
  };
  for (const Status& status : refused) {
    EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
    EXPECT_THAT(status.message(), HasSubstr("read-only"));
    EXPECT_THAT(status.message(), HasSubstr(path));
  }
  EXPECT_EQ(CountRenders(reader), 0);
  EXPECT_EQ(std::filesystem::file_size(path), size_before);
}

}  // namespace
}  // namespace farm::store
