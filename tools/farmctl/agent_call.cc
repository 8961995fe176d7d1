#include "agent_call.h"

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "farm/schemas/child_process.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;

// A private temporary file for the agent's stderr, removed on destruction.
class TempLog {
 public:
  TempLog() {
    std::error_code ec;
    std::string pattern = (fs::temp_directory_path(ec) / "farmctl-agent-XXXXXX").string();
    const int fd = ::mkstemp(pattern.data());
    if (fd >= 0) {
      ::close(fd);
      path_ = pattern;
    }
  }
  ~TempLog() {
    std::error_code ec;
    if (!path_.empty()) fs::remove(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Read() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::string path_;
};

}  // namespace

farm::StatusOr<AgentRun> RunAgent(const std::string& agent_path, const std::vector<std::string>& args,
                                  const std::function<void(const std::string&)>& on_line) {
  TempLog log;
  if (log.path().empty()) return farm::Unavailable("cannot create a temporary file for farm-agent's log");
  farm::ChildOptions options;
  options.argv.push_back(agent_path);
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.pipe_stdout = true;
  options.log_path = log.path();
  farm::StatusOr<farm::ChildProcess> child = farm::ChildProcess::Start(options);
  if (!child.ok()) {
    return child.status().WithContext("farm-agent (pass --agent PATH to use another one)");
  }
  AgentRun run;
  while (true) {
    farm::StatusOr<std::string> line = child->ReadLine(std::chrono::seconds(1));
    if (line.ok()) {
      if (on_line) on_line(*line);
      run.out += *line + "\n";
      continue;
    }
    if (line.status().code() == farm::StatusCode::kTimedOut) continue;  // still working
    break;  // stdout closed: the agent is exiting
  }
  // Closing stdout is the last thing a process does; give it time to be reaped.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (child->Running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  run.exit_code = child->Stop(std::chrono::seconds(2));
  run.err = log.Read();
  return run;
}

farm::StatusOr<AgentJson> RunAgentJson(const std::string& agent_path,
                                       const std::vector<std::string>& args) {
  FARM_ASSIGN_OR_RETURN(AgentRun run, RunAgent(agent_path, args));
  AgentJson answer;
  answer.exit_code = run.exit_code;
  answer.err = run.err;
  try {
    answer.value = nlohmann::json::parse(run.out);
  } catch (const nlohmann::json::exception&) {
    std::string command = agent_path;
    for (const std::string& arg : args) command += " " + arg;
    return farm::Internal("farm-agent gave no JSON answer (exit code " +
                          std::to_string(run.exit_code) + ") for: " + command +
                          (run.err.empty() ? std::string() : "\n" + LastLines(run.err, 8)));
  }
  if (!answer.value.is_object()) return farm::Internal("farm-agent's answer is not a JSON object");
  return answer;
}

std::string LastLines(const std::string& text, int max_lines) {
  size_t start = text.size();
  if (start > 0 && text[start - 1] == '\n') --start;
  for (int lines = 0; start > 0; --start) {
    if (text[start - 1] == '\n' && ++lines == max_lines) break;
  }
  std::string tail = text.substr(start);
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  return tail;
}

}  // namespace farmctl
