#include "line_log.h"

#include <unistd.h>

#include <cerrno>

namespace farm::agent {

LineLog& LineLog::Instance() {
  static LineLog* log = new LineLog();  // never destroyed: job threads may log at exit
  return *log;
}

void LineLog::Add(std::string_view agent_id, std::string_view text) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.append("farm-agent agent=").append(agent_id).append(" ").append(text).append("\n");
  if (pending_.size() >= kFlushBytes) FlushLocked();
}

void LineLog::Flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  FlushLocked();
}

void LineLog::FlushLocked() {
  std::size_t written = 0;
  while (written < pending_.size()) {
    const ssize_t n = ::write(STDERR_FILENO, pending_.data() + written, pending_.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // stderr closed or full: the lines are dropped, the agent goes on
    written += static_cast<std::size_t>(n);
  }
  pending_.clear();
}

}  // namespace farm::agent
