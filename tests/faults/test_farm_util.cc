#include "test_farm_util.h"

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "farm/transport/curve_keys.h"
#include "http_client.h"

namespace farm_faults {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr char kToken[] = "fault-test-token";

// Quoted as a JSON string, which YAML reads as the same string.
std::string Quote(const std::string& text) { return json(text).dump(); }

farm::Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) return farm::Unavailable("cannot write '" + path.string() + "'");
  return farm::Status::Ok();
}

// kill -9 as a shell does it: the process only, not its group, so nothing shuts down in order.
void Kill9(farm::ChildProcess& child) {
  if (!child.Running()) return;
  ::kill(child.pid(), SIGKILL);
  child.Stop(std::chrono::milliseconds(0));  // reaps it
}

}  // namespace

farm::StatusOr<std::unique_ptr<TestFarm>> TestFarm::Create(const fs::path& dir,
                                                           const TestFarmOptions& options) {
  std::unique_ptr<TestFarm> farm(new TestFarm());
  farm->dir_ = dir;
  farm->options_ = options;
  farm->token_ = kToken;
  std::error_code ec;
  fs::remove_all(dir, ec);
  for (const char* sub : {"keys", "logs", "photos", "artifacts"}) fs::create_directories(dir / sub);
  if (!fs::is_directory(dir / "keys")) return farm::Unavailable("cannot create " + dir.string());

  FARM_ASSIGN_OR_RETURN(farm::transport::CurveKeyPair server,
                        farm::transport::GenerateCurveKeyPair());
  farm->server_public_key_ = server.public_key;
  FARM_RETURN_IF_ERROR(
      farm::transport::WriteCurveKeyFile((dir / "keys" / "server.key").string(), server, true));
  std::string allow = "# agents of the fault test\n";
  for (int i = 1; i <= options.allowed_agents; ++i) {
    FARM_ASSIGN_OR_RETURN(farm::transport::CurveKeyPair agent,
                          farm::transport::GenerateCurveKeyPair());
    FARM_RETURN_IF_ERROR(farm::transport::WriteCurveKeyFile(farm->agent_key_file(i), agent, true));
    allow += agent.public_key + "  # agent-" + std::to_string(i) + "\n";
  }
  FARM_RETURN_IF_ERROR(WriteText(dir / "keys" / "agents.allow", allow));
  FARM_RETURN_IF_ERROR(WriteText(dir / "photos" / "a.jpg", "not really a photo"));
  FARM_RETURN_IF_ERROR(WriteText(
      dir / "farmd.yaml",
      "store:\n  database: " + Quote(farm->database()) +
          "\n  artifacts: " + Quote((dir / "artifacts").string()) +
          "\ncoordinator:\n  agent_endpoint: tcp://127.0.0.1:0\n  http_listen: 127.0.0.1:0\n"
          "  curve: on\n  heartbeat_interval_ms: " +
          std::to_string(options.heartbeat_interval_ms) +
          "\n  heartbeat_liveness: " + std::to_string(options.heartbeat_liveness) +
          "\n  lease_timeout_ms: " + std::to_string(options.lease_timeout_ms) + "\n"));
  return farm;
}

TestFarm::~TestFarm() { StopAll(); }

std::string TestFarm::agent_key_file(int index) const {
  return (dir_ / "keys" / ("agent-" + std::to_string(index) + ".key")).string();
}

farm::Status TestFarm::StartFarmd() {
  if (farmd_ && farmd_->Running()) return farm::FailedPrecondition("farmd is already running");
  farm::ChildOptions child;
  child.argv = {FARMD_PATH,
                "--config",
                (dir_ / "farmd.yaml").string(),
                "--token",
                token_,
                "--server-key-file",
                (dir_ / "keys" / "server.key").string(),
                "--allow-keys-file",
                (dir_ / "keys" / "agents.allow").string(),
                "--spec-dir",
                dir_.string()};
  if (!agent_endpoint_.empty()) {
    child.argv.push_back("--listen-agents");
    child.argv.push_back(agent_endpoint_);
  }
  child.pipe_stdout = true;
  child.log_path = farmd_log();  // appended to: every start's log in one file
  FARM_ASSIGN_OR_RETURN(farm::ChildProcess started, farm::ChildProcess::Start(child));
  farmd_ = std::make_unique<farm::ChildProcess>(std::move(started));
  // Generous: a loaded machine may take a while to open the database and recover.
  auto line = farmd_->ReadLine(std::chrono::seconds(30));
  if (!line.ok()) {
    return line.status().WithContext("farmd did not report ready; its log:\n" +
                                      farm::TailOfFile(farmd_log(), 20));
  }
  const json ready = json::parse(*line, nullptr, false);
  if (ready.is_discarded() || !ready.contains("http") || !ready.contains("agent_endpoint")) {
    return farm::DataLoss("farmd's ready line is not the expected JSON: " + *line);
  }
  const std::string endpoint = ready["agent_endpoint"].get<std::string>();
  if (!agent_endpoint_.empty() && endpoint != agent_endpoint_) {
    return farm::Internal("farmd moved from " + agent_endpoint_ + " to " + endpoint);
  }
  agent_endpoint_ = endpoint;
  http_endpoint_ = ready["http"].get<std::string>();
  return farm::Status::Ok();
}

void TestFarm::KillFarmd() {
  if (farmd_) Kill9(*farmd_);
}

bool TestFarm::FarmdRunning() { return farmd_ && farmd_->Running(); }

farm::Status TestFarm::StartAgent(int index, int slots) {
  return StartAgentWith("agent-" + std::to_string(index),
                        {"--id", "agent-" + std::to_string(index), "--slots", std::to_string(slots),
                         "--server-key", server_public_key_, "--key-file", agent_key_file(index)});
}

void TestFarm::KillAgent(int index) {
  auto it = agents_.find("agent-" + std::to_string(index));
  if (it != agents_.end()) Kill9(it->second);
}

bool TestFarm::AgentRunning(int index) {
  auto it = agents_.find("agent-" + std::to_string(index));
  return it != agents_.end() && it->second.Running();
}

int TestFarm::AgentRegistrations(int index) const {
  std::ifstream in(agent_log(index));
  int registrations = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("registered, session") != std::string::npos) ++registrations;
  }
  return registrations;
}

farm::Status TestFarm::StartAgentWith(const std::string& name,
                                      const std::vector<std::string>& args) {
  if (agent_endpoint_.empty()) return farm::FailedPrecondition("start farmd first");
  farm::ChildOptions child;
  // Reconnect quickly after farmd comes back; short grace so a stop is quick.
  child.argv = {FARM_AGENT_PATH, "--connect", agent_endpoint_, "--reconnect-max-ms", "1000",
                "--shutdown-grace-ms", "500"};
  child.argv.insert(child.argv.end(), args.begin(), args.end());
  child.log_path = (dir_ / "logs" / (name + ".log")).string();
  auto started = farm::ChildProcess::Start(child);
  if (!started.ok()) return started.status().WithContext("start " + name);
  auto it = agents_.find(name);
  if (it != agents_.end()) {
    it->second = std::move(*started);  // the old one is dead; assignment reaps it
  } else {
    agents_.emplace(name, std::move(*started));
  }
  return farm::Status::Ok();
}

void TestFarm::StopAll() {
  for (auto& [name, agent] : agents_) {
    if (agent.Running()) ::kill(-agent.pid(), SIGTERM);
  }
  for (auto& [name, agent] : agents_) agent.Stop(std::chrono::seconds(3));
  if (farmd_) farmd_->Stop(std::chrono::seconds(5));
}

farm::StatusOr<std::string> TestFarm::WriteUnknownKey(const std::string& name) {
  FARM_ASSIGN_OR_RETURN(farm::transport::CurveKeyPair keys,
                        farm::transport::GenerateCurveKeyPair());
  const std::string path = (dir_ / "keys" / (name + ".key")).string();
  FARM_RETURN_IF_ERROR(farm::transport::WriteCurveKeyFile(path, keys, true));
  return path;
}

farm::StatusOr<std::string> TestFarm::StartAgentWithUnknownKey(const std::string& name,
                                                              int slots) {
  FARM_ASSIGN_OR_RETURN(std::string key_file, WriteUnknownKey(name));
  FARM_ASSIGN_OR_RETURN(farm::transport::CurveKeyPair keys,
                        farm::transport::ReadCurveKeyFile(key_file));
  FARM_RETURN_IF_ERROR(StartAgentWith(name, {"--id", name, "--slots", std::to_string(slots),
                                             "--server-key", server_public_key_, "--key-file",
                                             key_file}));
  return keys.public_key;
}

bool TestFarm::WaitForAuthRefusals(double count, std::chrono::milliseconds limit,
                                   std::string* metrics) {
  return WaitUntil(
      [&] {
        auto text = Metrics();
        if (text.ok()) *metrics = *text;
        return MetricValue(*metrics, "farm_link_messages_total{kind=\"auth_refused\"}") >= count;
      },
      limit);
}

farm::StatusOr<std::int64_t> TestFarm::SubmitSweep(int jobs, int cpu_ms, int bytes) {
  const std::string spec =
      "name: faults\n"
      "identity:\n  name: t\n  photos: \"photos/*.jpg\"\n  token: sks person\n"
      "checkpoint:\n  path: none.safetensors\n"
      "  sha256: 9e194ae96bc93e7bbd668c1782ac0a1c7db5b2a0a0789512c12a0cba330d20bc\n"
      "render:\n  prompt: \"photo of {token}\"\n  size: 64x64\n  steps: 4\n  cfg: 7\n"
      "  sampler: Euler\n  seeds: {base: 1, count: " +
      std::to_string(jobs) + "}\n";
  farmctl::ApiClient api(http_endpoint_, token_, std::chrono::seconds(30));
  FARM_ASSIGN_OR_RETURN(json answer, api.Post("/api/v1/sweeps", {{"spec", spec},
                                                                 {"file_name", "faults.yaml"},
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

farm::StatusOr<json> TestFarm::ApiGet(const std::string& target) const {
  farmctl::ApiClient api(http_endpoint_, token_, std::chrono::seconds(10));
  return api.Get(target);
}

farm::StatusOr<SweepCounts> TestFarm::Counts(std::int64_t sweep_id) const {
  FARM_ASSIGN_OR_RETURN(json sweep, ApiGet("/api/v1/sweeps/" + std::to_string(sweep_id)));
  return SweepCountsOf(sweep);
}

farm::StatusOr<SweepCounts> SweepCountsOf(const nlohmann::json& sweep) {
  SweepCounts counts;
  try {
    const json& jobs = sweep.at("jobs");
    counts.total = sweep.at("jobs_total").get<int>();
    counts.queued = jobs.at("queued").get<int>();
    counts.leased = jobs.at("leased").get<int>();
    counts.succeeded = jobs.at("succeeded").get<int>();
    counts.failed = jobs.at("failed").get<int>();
    counts.cancelled = jobs.at("cancelled").get<int>();
    counts.skipped = jobs.at("skipped").get<int>();
  } catch (const json::exception& e) {
    return farm::DataLoss(std::string("malformed sweep answer: ") + e.what());
  }
  return counts;
}

farm::StatusOr<std::string> TestFarm::Metrics() const {
  farmctl::HttpRequest request;
  request.target = "/metrics";
  request.token = token_;
  FARM_ASSIGN_OR_RETURN(farmctl::HttpResponse response,
                        farmctl::SendHttp(http_endpoint_, request));
  if (response.status != 200) {
    return farm::Unavailable("/metrics answered " + std::to_string(response.status));
  }
  return response.body;
}

farm::StatusOr<SweepCounts> TestFarm::WaitForSweep(
    std::int64_t sweep_id, std::chrono::milliseconds limit,
    const std::function<void(const SweepCounts&)>& tick, std::chrono::milliseconds period) {
  return PollUntilSweepDone(
      sweep_id, limit, [this] { return FarmdRunning(); }, [&] { return Counts(sweep_id); }, tick,
      period, [this] { return LogTails(); });
}

std::string TestFarm::LogTails(int lines) const { return TailsOfLogs(dir_ / "logs", lines); }

farm::StatusOr<SweepCounts> PollUntilSweepDone(
    std::int64_t sweep_id, std::chrono::milliseconds limit,
    const std::function<bool()>& running,
    const std::function<farm::StatusOr<SweepCounts>()>& counts,
    const std::function<void(const SweepCounts&)>& tick, std::chrono::milliseconds period,
    const std::function<std::string()>& log_tails) {
  const auto deadline = Clock::now() + limit;
  SweepCounts last;
  std::string last_error = "never answered";
  while (Clock::now() < deadline) {
    if (running()) {
      auto now = counts();
      if (now.ok()) {
        last = *now;
        if (last.total > 0 && last.queued == 0 && last.leased == 0) return last;
      } else {
        last_error = now.status().ToString();
      }
    }
    if (tick) tick(last);
    std::this_thread::sleep_for(period);
  }
  return farm::Status(farm::StatusCode::kTimedOut,
                      "sweep " + std::to_string(sweep_id) + " unfinished: " +
                          std::to_string(last.finished()) + " of " + std::to_string(last.total) +
                          " finished (last API error: " + last_error + ")\n" + log_tails());
}

std::string TailsOfLogs(const std::filesystem::path& logs_dir, int lines) {
  std::string out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(logs_dir, ec)) {
    out += entry.path().filename().string() + ":\n" +
           farm::TailOfFile(entry.path().string(), lines);
  }
  return out;
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit,
               std::chrono::milliseconds period) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(period);
  }
  return true;
}

ProcessMemory ReadProcessMemory(pid_t pid) {
  ProcessMemory memory;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    std::int64_t kib = 0;
    fields >> key >> kib;
    if (key == "VmRSS:") memory.rss_kib = kib;
    if (key == "VmHWM:") memory.hwm_kib = kib;
  }
  return memory;
}

double MetricValue(const std::string& metrics_text, const std::string& series) {
  std::istringstream in(metrics_text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

}  // namespace farm_faults
