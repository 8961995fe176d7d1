// Running farm-agent as a child process for the verbs whose numeric work (face ID) lives
// in the agent: farmctl never links libtorch or OpenCV. The agent prints one JSON object
// on stdout with --json; its stderr is captured and shown on failure.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farmctl {

struct AgentRun {
  int exit_code = -1;      // as the shell shows it (128+signal when killed)
  std::string out;         // everything it wrote on stdout
  std::string err;         // everything it wrote on stderr
};

// Runs `agent_path args...` to its end. Each stdout line goes to `on_line` as it arrives
// (when given) and into AgentRun::out. Errors only when the agent cannot be started
// (NotFound names the path and says how to point farmctl at it).
farm::StatusOr<AgentRun> RunAgent(const std::string& agent_path, const std::vector<std::string>& args,
                                  const std::function<void(const std::string&)>& on_line = {});

// RunAgent, then the JSON object on its stdout. A run that printed no JSON is an error
// carrying the agent's exit code and the end of its stderr. The exit code is returned
// alongside, so callers can read a partial answer (e.g. `faces embed` with a bad photo).
struct AgentJson {
  int exit_code = -1;
  nlohmann::json value;
  std::string err;
};
farm::StatusOr<AgentJson> RunAgentJson(const std::string& agent_path,
                                       const std::vector<std::string>& args);

// The last `max_lines` lines of `text` (for error messages).
std::string LastLines(const std::string& text, int max_lines);

}  // namespace farmctl
