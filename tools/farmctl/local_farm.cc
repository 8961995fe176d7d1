#include "local_farm.h"

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "api_token.h"
#include "farm/schemas/sha256.h"
#include "farm/transport/curve_keys.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using farm::transport::CurveKeyPair;

farm::Status MakePrivateDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return farm::Unavailable("cannot create '" + dir.string() + "': " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return farm::Unavailable("cannot chmod '" + dir.string() + "': " + ec.message());
  return farm::Status::Ok();
}

farm::Status WritePrivateFile(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::remove(path, ec);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return farm::Unavailable("cannot write '" + path.string() + "'");
    out << text;
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace,
                  ec);
  if (ec) return farm::Unavailable("cannot chmod '" + path.string() + "': " + ec.message());
  return farm::Status::Ok();
}

// Quoted as a JSON string, which YAML reads as the same string.
std::string Quote(const std::string& text) { return nlohmann::json(text).dump(); }

farm::Status Died(const std::string& name, farm::ChildProcess& child) {
  return farm::Unavailable(name + " exited (status " +
                           std::to_string(child.exit_code().value_or(-1)) + "); last lines of " +
                           child.log_path() + ":\n" + farm::TailOfFile(child.log_path(), 15));
}

}  // namespace

farm::StatusOr<std::unique_ptr<LocalFarm>> LocalFarm::Start(const LocalFarmOptions& options,
                                                            const std::atomic<bool>& interrupted) {
  if (options.agents < 1) return farm::InvalidArgument("--agents must be at least 1");
  const fs::path state = options.state_dir;
  FARM_RETURN_IF_ERROR(MakePrivateDir(state));
  FARM_RETURN_IF_ERROR(MakePrivateDir(state / "keys"));
  FARM_RETURN_IF_ERROR(MakePrivateDir(state / "logs"));

  // Fresh keys every run: nothing outside this run ever needs to trust them.
  FARM_ASSIGN_OR_RETURN(CurveKeyPair server, farm::transport::GenerateCurveKeyPair());
  const fs::path server_key = state / "keys" / "server.key";
  FARM_RETURN_IF_ERROR(farm::transport::WriteCurveKeyFile(server_key.string(), server, true));
  std::string allow_list = "# agents started by farmctl run\n";
  std::vector<fs::path> agent_keys;
  for (int i = 1; i <= options.agents; ++i) {
    FARM_ASSIGN_OR_RETURN(CurveKeyPair agent, farm::transport::GenerateCurveKeyPair());
    agent_keys.push_back(state / "keys" / ("agent-" + std::to_string(i) + ".key"));
    FARM_RETURN_IF_ERROR(
        farm::transport::WriteCurveKeyFile(agent_keys.back().string(), agent, true));
    allow_list += agent.public_key + "  # local-" + std::to_string(i) + "\n";
  }
  const fs::path allow = state / "keys" / "agents.allow";
  FARM_RETURN_IF_ERROR(WritePrivateFile(allow, allow_list));

  const fs::path config = state / "farmd.yaml";
  FARM_RETURN_IF_ERROR(WritePrivateFile(
      config,
      "# written by farmctl run for its own farmd\nstore:\n  database: " + Quote(options.database) +
          "\n  artifacts: " + Quote((state / "artifacts").string()) +
          "\ncoordinator:\n  agent_endpoint: tcp://127.0.0.1:0\n"
          "  http_listen: 127.0.0.1:0\n  curve: on\nmodels:\n  dir: " +
          Quote(options.models_dir) + "\n"));

  std::unique_ptr<LocalFarm> farm(new LocalFarm());
  FARM_ASSIGN_OR_RETURN(farm->token_, NewApiToken());
  farm->log_dir_ = (state / "logs").string();

  farm::ChildOptions farmd;
  // farmd gets only the digest: the token is not on its command line (ps) either.
  const std::string digest = "sha256:" + farm::Sha256Hex(farm->token_);
  farmd.argv = {options.farmd_path, "--config",          config.string(),     "--token",
                digest,             "--server-key-file", server_key.string(), "--allow-keys-file",
                allow.string(),     "--presets-dir",     options.presets_dir, "--spec-dir",
                options.spec_dir};
  farmd.pipe_stdout = true;
  farmd.log_path = (state / "logs" / "farmd.log").string();
  std::ofstream(farmd.log_path, std::ios::trunc);  // one run's log per file
  FARM_ASSIGN_OR_RETURN(farm::ChildProcess farmd_child, farm::ChildProcess::Start(farmd));
  farm->farmd_ = std::make_unique<farm::ChildProcess>(std::move(farmd_child));

  // The ready line; poll in slices so Ctrl-C is noticed while farmd opens the database.
  const auto deadline = std::chrono::steady_clock::now() + options.ready_timeout;
  std::string line;
  while (true) {
    if (interrupted.load()) return farm::Unavailable("interrupted");
    auto read = farm->farmd_->ReadLine(std::chrono::milliseconds(200));
    if (read.ok()) {
      line = *read;
      break;
    }
    if (read.status().code() != farm::StatusCode::kTimedOut) {
      farm->farmd_->Stop(std::chrono::seconds(2));
      return Died("farmd", *farm->farmd_);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      farm->farmd_->Stop(std::chrono::seconds(2));
      return farm::Status(farm::StatusCode::kTimedOut,
                          "farmd did not report ready within " +
                              std::to_string(options.ready_timeout.count() / 1000) +
                              " s; last lines of " + farmd.log_path + ":\n" +
                              farm::TailOfFile(farmd.log_path, 15));
    }
  }
  const nlohmann::json ready = nlohmann::json::parse(line, nullptr, false);
  if (ready.is_discarded() || !ready.is_object() || !ready.contains("http") ||
      !ready.contains("agent_endpoint")) {
    return farm::DataLoss("farmd's ready line is not the expected JSON: " + line);
  }
  farm->http_endpoint_ = ready["http"].get<std::string>();
  const std::string agent_endpoint = ready["agent_endpoint"].get<std::string>();
  const std::string server_public = ready.value("server_public_key", server.public_key);

  for (int i = 1; i <= options.agents; ++i) {
    farm::ChildOptions agent;
    agent.argv = {options.agent_path,
                  "--connect",
                  agent_endpoint,
                  "--id",
                  "local-" + std::to_string(i),
                  "--slots",
                  std::to_string(options.slots),
                  "--threads",
                  std::to_string(options.threads),
                  "--server-key",
                  server_public,
                  "--key-file",
                  agent_keys[i - 1].string(),
                  "--shutdown-grace-ms",
                  "2000",
                  "--config-dir",
                  options.presets_dir,
                  // One download per farm of what agents fetch from farmd (trained LoRAs):
                  // the cache is safe to share (files appear only by rename once verified).
                  "--cache-dir",
                  (state / "agent-cache").string()};
    // cpu is farm-agent's default; an agent built without the render engine has no --device.
    if (options.device != "cpu") agent.argv.insert(agent.argv.end(), {"--device", options.device});
    // Render jobs find models by sha256 in the same folder the spec's 'models:/' names.
    if (!options.models_dir.empty()) {
      agent.argv.insert(agent.argv.end(), {"--models-dir", options.models_dir});
    }
    if (options.stage_images) agent.argv.push_back("--keep-stage-images");
    if (options.model_cache_mb > 0) {
      agent.argv.insert(agent.argv.end(), {"--model-cache-mb", std::to_string(options.model_cache_mb)});
    }
    agent.log_path = (state / "logs" / ("agent-" + std::to_string(i) + ".log")).string();
    std::ofstream(agent.log_path, std::ios::trunc);
    auto child = farm::ChildProcess::Start(agent);
    if (!child.ok())
      return child.status().WithContext("start farm-agent local-" + std::to_string(i));
    farm->agents_.push_back(std::move(*child));
  }
  return farm;
}

LocalFarm::~LocalFarm() { Stop(); }

farm::Status LocalFarm::CheckAlive() {
  if (farmd_ && !farmd_->Running()) return Died("farmd", *farmd_);
  int running = 0;
  for (farm::ChildProcess& agent : agents_) running += agent.Running() ? 1 : 0;
  if (!agents_.empty() && running == 0) return Died("every farm-agent", agents_.front());
  return farm::Status::Ok();
}

void LocalFarm::Stop() {
  // Signal every agent first so they shut down in parallel, then wait for each.
  for (farm::ChildProcess& agent : agents_) {
    if (agent.Running()) ::kill(-agent.pid(), SIGTERM);
  }
  for (farm::ChildProcess& agent : agents_) agent.Stop(std::chrono::seconds(4));
  if (farmd_) farmd_->Stop(std::chrono::seconds(5));
}

}  // namespace farmctl
