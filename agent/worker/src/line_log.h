// Private to farm_agent_core: the agent's log lines, written to stderr once per pass of
// the connection loop instead of one write(2) per line.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

namespace farm::agent {

// At thousands of jobs a second an unbuffered line per event (offer started, ended,
// result acknowledged) was a system call per line on cores the jobs share. Lines are
// appended here and written together by Flush(), which the loop calls before it waits;
// so a line reaches the log before the agent next sleeps, never later. A process-wide
// buffer, like the stderr it fronts. Thread-safe.
class LineLog {
 public:
  static LineLog& Instance();

  // Appends "farm-agent agent=<id> <text>\n"; writes at once past kFlushBytes.
  void Add(std::string_view agent_id, std::string_view text);
  void Flush();

 private:
  static constexpr std::size_t kFlushBytes = 64 * 1024;
  void FlushLocked();

  std::mutex mutex_;
  std::string pending_;
};

}  // namespace farm::agent
