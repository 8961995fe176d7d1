#include "netns_farm.h"

#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "http_client.h"

namespace farm_netns {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

farm::Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) return farm::Unavailable("cannot write '" + path.string() + "'");
  return farm::Status::Ok();
}

// "tcp://HOST:PORT" or "HOST:PORT" -> PORT; 0 when there is none.
int PortOf(const std::string& endpoint) {
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return 0;
  try {
    return std::stoi(endpoint.substr(colon + 1));
  } catch (const std::exception&) {
    return 0;
  }
}

// The documented YAML key `section.key`, which must exist: the harness only changes what the
// document has.
farm::StatusOr<YAML::Node> Key(YAML::Node& root, const std::string& section, const std::string& key) {
  if (!root[section] || !root[section][key]) {
    return farm::NotFound("farm_configs/cluster.example.yaml has no " + section + "." + key);
  }
  return root[section][key];
}

void Kill9(farm::ChildProcess& child) {
  if (!child.Running()) return;
  ::kill(child.pid(), SIGKILL);
  child.Stop(std::chrono::milliseconds(0));  // reaps it
}

}  // namespace

std::string NetnsFarm::agent_id(int index) {
  char id[16];
  std::snprintf(id, sizeof(id), "node%02d", index);
  return id;
}

std::string NetnsFarm::Mapped(const std::string& text) const {
  // The document's folders, moved under the test's; the shared ones are the source tree's.
  const std::string root = dir_.string();
  return ReplaceAll(text, {{"/etc/studiofarm", root + "/etc/studiofarm"},
                           {"/var/lib/studiofarm", root + "/var/lib/studiofarm"},
                           {"/var/cache/studiofarm", root + "/var/cache/studiofarm"},
                           {"/srv/studiofarm", root + "/srv/studiofarm"},
                           {"/opt/studiofarm/share/studiofarm/farm_configs",
                            FARM_SOURCE_DIR "/farm_configs"},
                           {"/opt/studiofarm/share/studiofarm/poses",
                            FARM_SOURCE_DIR "/experiments/poses"}});
}

farm::StatusOr<std::unique_ptr<NetnsFarm>> NetnsFarm::Create(NetnsLab& lab, const fs::path& dir,
                                                             const NetnsFarmOptions& options) {
  std::unique_ptr<NetnsFarm> farm(new NetnsFarm(lab));
  farm->dir_ = dir;
  farm->options_ = options;
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir / "logs", ec);
  if (ec) return farm::Unavailable("cannot create " + dir.string() + ": " + ec.message());
  FARM_ASSIGN_OR_RETURN(farm->doc_, ReadOpsDoc(FARM_SOURCE_DIR "/docs/operations.md",
                                               FARM_SOURCE_DIR "/farm_configs/cluster.example.yaml"));
  FARM_RETURN_IF_ERROR(farm->MakeKeysAndToken());
  FARM_RETURN_IF_ERROR(farm->WriteConfig());
  // What the document's spec dir holds for the sweeps the test submits.
  const fs::path specs = farm->Mapped("/var/lib/studiofarm/specs");
  fs::create_directories(specs / "photos", ec);
  FARM_RETURN_IF_ERROR(WriteText(specs / "photos" / "a.jpg", "not really a photo"));
  return farm;
}

farm::Status NetnsFarm::MakeKeysAndToken() {
  // The document's commands as an operator runs them, with farmctl of this build first on
  // PATH and /etc/studiofarm under the test's folder.
  const std::string farmctl_dir = fs::path(FARMCTL_PATH).parent_path().string();
  const std::string path = farmctl_dir + ":" + (std::getenv("PATH") ? std::getenv("PATH") : "") +
                           ":/usr/sbin:/usr/bin:/sbin:/bin";
  std::vector<std::string> commands = doc_.key_commands;
  // More agents than the document makes keys for: one more pair each, as it says.
  for (int i = 1; i <= lab_.agents(); ++i) {
    const std::string out = "/etc/studiofarm/keys/agents/" + agent_id(i);
    bool listed = false;
    for (const std::string& command : commands) listed = listed || command.find(out) != std::string::npos;
    if (!listed) commands.push_back("farmctl keys gen --out " + out);
  }
  commands.push_back(doc_.allow_list_command);
  for (const std::string& command : commands) {
    FARM_ASSIGN_OR_RETURN(CommandResult result,
                          RunCommand({"env", "PATH=" + path, FindProgram("sh"), "-ec", Mapped(command)}));
    if (result.exit_code != 0) {
      return farm::Internal("docs/operations.md's command failed (exit " +
                            std::to_string(result.exit_code) + "): " + command + "\n" +
                            result.output);
    }
  }
  // `farmctl token new` prints the token and the tokens-file line.
  FARM_ASSIGN_OR_RETURN(CommandResult token, RunCommand({FARMCTL_PATH, "token", "new"}));
  std::istringstream lines(token.output);
  std::string tokens_line;
  for (std::string line; std::getline(lines, line);) {
    const std::size_t admin = line.find("admin sha256:");
    if (admin != std::string::npos) {
      tokens_line = line.substr(admin);
    } else if (line.rfind("token", 0) == 0) {
      token_ = line.substr(line.rfind(' ') + 1);
    }
  }
  if (token.exit_code != 0 || token_.empty() || tokens_line.empty()) {
    return farm::DataLoss("unexpected `farmctl token new` output: " + token.output);
  }
  return WriteText(Mapped("/etc/studiofarm/tokens"), tokens_line + "\n");
}

farm::Status NetnsFarm::WriteConfig() {
  // The file as it is (quotes, comments), paths moved and the timings of the test put in
  // place of the documented values; the keys must be there.
  std::string text = Mapped(doc_.cluster_config);
  const std::vector<std::pair<std::string, int>> timings = {
      {"heartbeat_interval_ms", options_.heartbeat_interval_ms},
      {"heartbeat_liveness", options_.heartbeat_liveness},
      {"lease_timeout_ms", options_.lease_timeout_ms}};
  for (const auto& [key, value] : timings) {
    const std::string prefix = "\n  " + key + ": ";
    const std::size_t at = text.find(prefix);
    if (at == std::string::npos) {
      return farm::NotFound("farm_configs/cluster.example.yaml has no coordinator." + key);
    }
    const std::size_t value_at = at + prefix.size();
    text.replace(value_at, text.find('\n', value_at) - value_at, std::to_string(value));
  }
  YAML::Node config;
  try {
    config = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return farm::InvalidArgument(std::string("farm_configs/cluster.example.yaml: ") + e.what());
  }
  FARM_ASSIGN_OR_RETURN(YAML::Node curve, Key(config, "coordinator", "curve"));
  FARM_ASSIGN_OR_RETURN(YAML::Node endpoint, Key(config, "coordinator", "agent_endpoint"));
  FARM_ASSIGN_OR_RETURN(YAML::Node database, Key(config, "store", "database"));
  FARM_ASSIGN_OR_RETURN(YAML::Node artifacts, Key(config, "store", "artifacts"));
  if (curve.as<std::string>() != "on") {
    return farm::InvalidArgument("the cluster config must have CURVE on, has '" +
                                 curve.as<std::string>() + "'");
  }
  // Each namespace is its own host: the documented port is free in farmd's.
  agent_port_ = PortOf(endpoint.as<std::string>());
  if (agent_port_ <= 0) return farm::InvalidArgument("agent_endpoint without a port");
  database_ = database.as<std::string>();
  artifacts_ = artifacts.as<std::string>();

  // Where the farmd unit's --config points.
  for (const auto& [flag, value] : doc_.farmd_flags) {
    if (flag == "--config") config_path_ = Mapped(value);
  }
  if (config_path_.empty()) return farm::NotFound("the farmd unit has no --config");
  std::error_code ec;
  fs::create_directories(fs::path(config_path_).parent_path(), ec);
  fs::create_directories(fs::path(database_).parent_path(), ec);
  return WriteText(config_path_, text);
}

NetnsFarm::~NetnsFarm() { StopAll(); }

farm::Status NetnsFarm::StartFarmd() {
  if (farmd_ && farmd_->Running()) return farm::FailedPrecondition("farmd is already running");
  Flags mapped;
  for (const auto& [flag, value] : doc_.farmd_flags) mapped.emplace_back(flag, Mapped(value));
  FARM_ASSIGN_OR_RETURN(std::vector<std::string> flags, FlagsWith(mapped, {}));
  std::vector<std::string> argv = {FARMD_PATH};
  argv.insert(argv.end(), flags.begin(), flags.end());
  farm::ChildOptions child;
  child.argv = NetnsLab::In(lab_.farmd_ns(), argv);
  child.pipe_stdout = true;
  child.log_path = farmd_log();
  FARM_ASSIGN_OR_RETURN(farm::ChildProcess started, farm::ChildProcess::Start(child));
  farmd_ = std::make_unique<farm::ChildProcess>(std::move(started));
  auto line = farmd_->ReadLine(std::chrono::seconds(30));
  if (!line.ok()) {
    return line.status().WithContext("farmd did not report ready; its log:\n" +
                                     farm::TailOfFile(farmd_log(), 20));
  }
  const json ready = json::parse(*line, nullptr, false);
  if (ready.is_discarded() || !ready.contains("http") || !ready.contains("agent_endpoint")) {
    return farm::DataLoss("farmd's ready line is not the expected JSON: " + *line);
  }
  // What the config file says is what farmd runs with (a renamed key would be ignored).
  const std::string endpoint = ready["agent_endpoint"].get<std::string>();
  if (PortOf(endpoint) != agent_port_ || ready.value("database", "") != database_ ||
      ready.value("curve", json()) != json(true)) {
    return farm::Internal("farmd does not run with the cluster config's agent port " +
                          std::to_string(agent_port_) + ", database " + database_ +
                          " and CURVE on: " + *line);
  }
  // HTTPS when the config listens off loopback (as the document's does), pinned to the
  // certificate farmd reports, as `farmctl --fingerprint` does.
  http_endpoint_ = ready.value("http_url", ready["http"].get<std::string>());
  tls_fingerprint_ = ready.value("tls_fingerprint", "");
  if (options_.proxy_delay && !proxy_) {
    DelayProxyOptions proxy;
    proxy.netns = lab_.farmd_ns();
    proxy.listen_host = NetnsLab::farmd_address();
    proxy.listen_port = agent_port_ + 1;
    proxy.target_host = "127.0.0.1";
    proxy.target_port = agent_port_;
    proxy.delay = *options_.proxy_delay;
    FARM_ASSIGN_OR_RETURN(proxy_, DelayProxy::Start(proxy));
  }
  return farm::Status::Ok();
}

void NetnsFarm::KillFarmd() {
  if (farmd_) Kill9(*farmd_);
}

bool NetnsFarm::FarmdRunning() { return farmd_ && farmd_->Running(); }

farm::Status NetnsFarm::StartAgent(int index) {
  if (index < 1 || index > lab_.agents()) return farm::InvalidArgument("no agent " + std::to_string(index));
  const std::string id = agent_id(index);
  const int port = proxy_ ? agent_port_ + 1 : agent_port_;
  Flags mapped;
  for (const auto& [flag, value] : doc_.agent_flags) mapped.emplace_back(flag, Mapped(value));
  // The unit's per-machine values (%H, %i) for this lab's machine.
  FARM_ASSIGN_OR_RETURN(
      std::vector<std::string> flags,
      FlagsWith(mapped, {{"--connect", "tcp://" + NetnsLab::farmd_address() + ":" + std::to_string(port)},
                         {"--id", id},
                         {"--key-file", Mapped("/etc/studiofarm/keys/agents/" + id + ".key")},
                         {"--device", "cpu"},
                         {"--slots", std::to_string(options_.slots)},
                         {"--threads", "1"},
                         {"--cache-dir", Mapped("/var/cache/studiofarm/" + id)},
                         {"--shutdown-grace-ms", "500"}}));
  std::vector<std::string> argv = {FARM_AGENT_PATH};
  argv.insert(argv.end(), flags.begin(), flags.end());
  // Back quickly after a partition; no model files (synthetic jobs only).
  argv.insert(argv.end(), {"--reconnect-max-ms", "1000", "--models-dir",
                           Mapped("/srv/studiofarm/models")});
  farm::ChildOptions child;
  child.argv = NetnsLab::In(lab_.agent_ns(index), argv);
  child.log_path = agent_log(index);
  auto started = farm::ChildProcess::Start(child);
  if (!started.ok()) return started.status().WithContext("start " + id);
  auto it = agents_.find(index);
  if (it != agents_.end()) {
    it->second = std::move(*started);
  } else {
    agents_.emplace(index, std::move(*started));
  }
  return farm::Status::Ok();
}

bool NetnsFarm::AgentRunning(int index) {
  auto it = agents_.find(index);
  return it != agents_.end() && it->second.Running();
}

int NetnsFarm::AgentLogCount(int index, const std::string& needle) const {
  std::ifstream in(agent_log(index));
  int count = 0;
  for (std::string line; std::getline(in, line);) count += line.find(needle) != std::string::npos;
  return count;
}

void NetnsFarm::StopAll() {
  for (auto& [index, agent] : agents_) {
    if (agent.Running()) ::kill(-agent.pid(), SIGTERM);
  }
  for (auto& [index, agent] : agents_) agent.Stop(std::chrono::seconds(3));
  if (farmd_) farmd_->Stop(std::chrono::seconds(5));
  proxy_.reset();
}

farm::StatusOr<std::int64_t> NetnsFarm::SubmitSweep(int jobs, int cpu_ms, int bytes) {
  const std::string spec =
      "name: netns\n"
      "identity:\n  name: t\n  photos: \"photos/*.jpg\"\n  token: sks person\n"
      "checkpoint:\n  path: none.safetensors\n"
      "  sha256: 9e194ae96bc93e7bbd668c1782ac0a1c7db5b2a0a0789512c12a0cba330d20bc\n"
      "render:\n  prompt: \"photo of {token}\"\n  size: 64x64\n  steps: 4\n  cfg: 7\n"
      "  sampler: Euler\n  seeds: {base: 1, count: " +
      std::to_string(jobs) + "}\n";
  FARM_ASSIGN_OR_RETURN(auto inside, ScopedNetns::Enter(lab_.farmd_ns()));
  farmctl::ApiClient api(http_endpoint_, token_, std::chrono::seconds(30), tls_fingerprint_);
  FARM_ASSIGN_OR_RETURN(json answer, api.Post("/api/v1/sweeps", {{"spec", spec},
                                                                 {"file_name", "netns.yaml"},
                                                                 {"synthetic", true},
                                                                 {"synthetic_cpu_ms", cpu_ms},
                                                                 {"synthetic_bytes", bytes}}));
  const std::int64_t id = answer.value("sweep_id", std::int64_t{0});
  if (id <= 0) return farm::DataLoss("submit answer without sweep_id: " + answer.dump());
  if (answer.value("jobs_created", 0) != jobs) {
    return farm::DataLoss("expected " + std::to_string(jobs) + " jobs: " + answer.dump());
  }
  return id;
}

farm::StatusOr<json> NetnsFarm::ApiGet(const std::string& target) const {
  FARM_ASSIGN_OR_RETURN(auto inside, ScopedNetns::Enter(lab_.farmd_ns()));
  farmctl::ApiClient api(http_endpoint_, token_, std::chrono::seconds(10), tls_fingerprint_);
  return api.Get(target);
}

farm::StatusOr<farm_faults::SweepCounts> NetnsFarm::Counts(std::int64_t sweep_id) const {
  FARM_ASSIGN_OR_RETURN(json sweep, ApiGet("/api/v1/sweeps/" + std::to_string(sweep_id)));
  return farm_faults::SweepCountsOf(sweep);
}

farm::StatusOr<std::string> NetnsFarm::Metrics() const {
  FARM_ASSIGN_OR_RETURN(auto inside, ScopedNetns::Enter(lab_.farmd_ns()));
  farmctl::HttpRequest request;
  request.target = "/metrics";
  request.token = token_;
  request.fingerprint = tls_fingerprint_;
  FARM_ASSIGN_OR_RETURN(farmctl::HttpResponse response, farmctl::SendHttp(http_endpoint_, request));
  if (response.status != 200) {
    return farm::Unavailable("/metrics answered " + std::to_string(response.status));
  }
  return response.body;
}

farm::StatusOr<farm_faults::SweepCounts> NetnsFarm::WaitForSweep(
    std::int64_t sweep_id, std::chrono::milliseconds limit,
    const std::function<void(const farm_faults::SweepCounts&)>& tick,
    std::chrono::milliseconds period) {
  return farm_faults::PollUntilSweepDone(
      sweep_id, limit, [this] { return FarmdRunning(); }, [&] { return Counts(sweep_id); }, tick,
      period, [this] { return LogTails(); });
}

std::string NetnsFarm::LogTails(int lines) const {
  return farm_faults::TailsOfLogs(dir_ / "logs", lines);
}

}  // namespace farm_netns
