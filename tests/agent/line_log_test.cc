// The agent's log lines reach stderr together when the loop flushes them, in order, and
// at once when they pile up.
#include "line_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace farm::agent {
namespace {

// Points stderr at a temporary file for the test's lifetime.
class StderrToFile {
 public:
  StderrToFile() : path_(::testing::TempDir() + "line_log_test_stderr.txt") {
    saved_ = ::dup(STDERR_FILENO);
    std::FILE* file = std::fopen(path_.c_str(), "w");
    ::dup2(::fileno(file), STDERR_FILENO);
    std::fclose(file);
  }
  ~StderrToFile() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    std::remove(path_.c_str());
  }
  std::string Text() const {
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::string path_;
  int saved_ = -1;
};

TEST(LineLogTest, LinesWaitForTheFlushAndKeepTheirOrder) {
  StderrToFile err;
  LineLog& log = LineLog::Instance();
  log.Flush();  // whatever an earlier test left
  log.Add("a1", "job=1 attempt=1 started RENDER");
  log.Add("a1", "job=1 attempt=1 result acked (accepted)");
  EXPECT_EQ(err.Text(), "");
  log.Flush();
  EXPECT_EQ(err.Text(),
            "farm-agent agent=a1 job=1 attempt=1 started RENDER\n"
            "farm-agent agent=a1 job=1 attempt=1 result acked (accepted)\n");
  log.Flush();  // nothing twice
  EXPECT_EQ(err.Text().size(), 111u);
}

TEST(LineLogTest, ManyLinesAreWrittenWithoutWaitingForTheFlush) {
  StderrToFile err;
  LineLog& log = LineLog::Instance();
  log.Flush();
  const std::string text(1000, 'x');
  for (int i = 0; i < 100; ++i) log.Add("a2", text);  // about 100 KB, over the 64 KiB bound
  const std::string written = err.Text();
  EXPECT_GE(written.size(), 64u * 1024);
  EXPECT_LT(written.size(), 100u * 1021);
  log.Flush();
  EXPECT_EQ(err.Text().size(), 100u * (text.size() + 21));
}

}  // namespace
}  // namespace farm::agent
