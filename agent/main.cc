// farm-agent: connects to farmd, runs offered jobs, reports results. Flags and key files
// are read here; farm_agent_core never touches files or the environment.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "farm/agent/agent.h"
#include "farm/agent/synthetic_runner.h"
#ifdef FARM_HAVE_SD_ENGINE
#include "engine_commands.h"
#endif
#ifdef FARM_HAVE_FACEID
#include "faces_commands.h"
#endif
#ifdef FARM_HAVE_POSE
#include "pose_commands.h"
#endif
#ifdef FARM_HAVE_RENDER_JOBS
#include "render_commands.h"
#endif
#ifdef FARM_HAVE_PREPARE
#include "prepare_commands.h"
#endif
#ifdef FARM_HAVE_TRAINING_JOBS
#include "training_jobs.h"
#endif
#ifdef FARM_HAVE_THUMBNAILS
#include "thumbnail_commands.h"
#endif
#ifdef FARM_HAVE_TOKENIZE
#include "tokenize_commands.h"
#endif

namespace {

// Set by the signal handler only; the agent's loop polls it.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void OnSignal(int) { g_stop.store(true); }

farm::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return farm::NotFound("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

int Fail(const farm::Status& status) {
  std::fprintf(stderr, "farm-agent: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"farm-agent: runs StudioFarm jobs offered by farmd"};
  app.set_version_flag("--version", std::string(FARM_VERSION));
  farm::agent::AgentOptions options;
  std::string server_key, server_key_file, key_file;
  int64_t heartbeat_ms = 1000, grace_ms = 30000, reconnect_max_ms = 32000;
  app.add_option("--connect", options.endpoint, "farmd endpoint, e.g. tcp://host:5555");
  app.add_option("--id", options.agent_id, "stable agent id (socket routing id)");
  app.add_option("--slots", options.slots, "jobs run at once")->check(CLI::Range(1, 1024));
  app.add_option("--prefetch", options.prefetch,
                 "leases taken beyond --slots, queued until a slot frees (for short jobs; "
                 "default 0)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--threads", options.compute_threads, "threads a job may use")
      ->check(CLI::Range(1, 1024));
  auto* key_opt = app.add_option("--server-key", server_key, "farmd's CURVE public key (Z85)");
  app.add_option("--server-key-file", server_key_file, "file holding farmd's public key")
      ->excludes(key_opt);
  app.add_option("--key-file", key_file, "own CURVE key pair (public:/secret: lines)");
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval until farmd's Welcome")
      ->check(CLI::Range(int64_t{1}, int64_t{600000}));
  app.add_option("--liveness", options.heartbeat_liveness, "missed beats before reconnecting")
      ->check(CLI::Range(1, 100));
  app.add_option("--shutdown-grace-ms", grace_ms, "on SIGTERM, time jobs get to finish")
      ->check(CLI::Range(int64_t{0}, int64_t{86400000}));
  app.add_option("--reconnect-max-ms", reconnect_max_ms, "longest reconnect back-off")
      ->check(CLI::Range(int64_t{1000}, int64_t{3600000}));
  std::string cache_dir;
  app.add_option("--cache-dir", cache_dir,
                 "where artifacts fetched from farmd are kept, in artifacts/<sha256> (default "
                 "$STUDIOFARM_CACHE or ~/.cache/studiofarm)");
#ifdef FARM_HAVE_SD_ENGINE
  farm::agent::AddEngineCommands(app);
#endif
#ifdef FARM_HAVE_FACEID
  farm::agent::AddFacesCommands(app);
#endif
#ifdef FARM_HAVE_POSE
  farm::agent::AddPoseCommands(app);
#endif
#ifdef FARM_HAVE_RENDER_JOBS
  farm::agent::AddRenderCommands(app);
#endif
#ifdef FARM_HAVE_PREPARE
  farm::agent::AddPrepareCommand(app);
#endif
#ifdef FARM_HAVE_TRAINING_JOBS
  farm::agent::AddTrainingJobOptions(app);
#endif
#ifdef FARM_HAVE_THUMBNAILS
  farm::agent::AddThumbnailCommand(app);
#endif
#ifdef FARM_HAVE_TOKENIZE
  farm::agent::AddTokenizeCommand(app);
#endif
#if defined(FARM_HAVE_SD_ENGINE) || defined(FARM_HAVE_FACEID)
  app.footer("Without a subcommand farm-agent serves farmd (--connect and --id are required).");
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are successes; any other parse error is a usage error (2).
    return app.exit(e) == 0 ? 0 : 2;
  }
#ifdef FARM_HAVE_SD_ENGINE
  if (int code = farm::agent::RunEngineCommand(app); code >= 0) return code;
#endif
#ifdef FARM_HAVE_FACEID
  if (int code = farm::agent::RunFacesCommand(app); code >= 0) return code;
#endif
#ifdef FARM_HAVE_POSE
  if (int code = farm::agent::RunPoseCommand(app); code >= 0) return code;
#endif
#ifdef FARM_HAVE_RENDER_JOBS
  if (int code = farm::agent::RunRenderCommand(app); code >= 0) return code;
#endif
#ifdef FARM_HAVE_PREPARE
  if (int code = farm::agent::RunPrepareCommand(app); code >= 0) return code;
#endif
#ifdef FARM_HAVE_THUMBNAILS
  if (int code = farm::agent::RunThumbnailCommand(app); code >= 0) return code;
#endif
#ifdef FARM_HAVE_TOKENIZE
  if (int code = farm::agent::RunTokenizeCommand(app); code >= 0) return code;
#endif
  if (options.endpoint.empty() || options.agent_id.empty()) {
    std::fprintf(stderr,
                 "farm-agent: --connect and --id are required to serve farmd (see --help)\n");
    return 2;
  }

  // Installed before anything slow so an early SIGTERM still shuts down cleanly.
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  options.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  options.shutdown_grace = std::chrono::milliseconds(grace_ms);
  options.reconnect_max = std::chrono::milliseconds(reconnect_max_ms);
  options.cpu_cores = std::max(1u, std::thread::hardware_concurrency());
  options.device_memory_bytes =
      static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) options.hostname = host;
  options.unix_now_ms = [] {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  };

  if (!server_key_file.empty()) {
    farm::StatusOr<std::string> text = ReadFile(server_key_file);
    if (!text.ok()) return Fail(text.status());
    server_key = Trim(*text);
    // Also accept a key file in the "public: <z85>" form.
    if (server_key.rfind("public:", 0) == 0) server_key = Trim(server_key.substr(7));
    while (!server_key.empty() && server_key.front() == ' ') server_key.erase(0, 1);
  }
  if (!server_key.empty()) options.server_public_key = server_key;
  if (!key_file.empty()) {
    farm::StatusOr<std::string> text = ReadFile(key_file);
    if (!text.ok()) return Fail(text.status());
    farm::StatusOr<farm::agent::CurveKeyPair> keys = farm::agent::ParseCurveKeyPair(*text);
    if (!keys.ok()) return Fail(keys.status().WithContext(key_file));
    options.client_keys = *keys;
  }
  if (!options.server_public_key.has_value()) {
    std::fprintf(stderr, "farm-agent: no server key; connecting in PLAINTEXT (loopback only)\n");
  }

  // Downloads from farmd (trained LoRAs for renders), cached on disk across restarts.
  if (cache_dir.empty()) {
    const char* env = std::getenv("STUDIOFARM_CACHE");
    const char* home = std::getenv("HOME");
    cache_dir = env && *env ? env : std::string(home && *home ? home : ".") + "/.cache/studiofarm";
  }
  farm::agent::ArtifactFetcherOptions fetch_options;
  fetch_options.cache_dir = cache_dir;
  farm::StatusOr<std::shared_ptr<farm::agent::ArtifactFetcher>> fetcher =
      farm::agent::ArtifactFetcher::Create(fetch_options);
  if (!fetcher.ok()) return Fail(fetcher.status().WithContext("--cache-dir"));
  options.artifact_fetcher = *fetcher;

  farm::agent::RunnerRegistry runners;
  farm::Status registered = runners.Register(std::make_unique<farm::agent::SyntheticRunner>());
  if (!registered.ok()) return Fail(registered);
#ifdef FARM_HAVE_RENDER_JOBS
  // JOB_KIND_RENDER when a models directory exists; its model hashes are advertised.
  registered = farm::agent::RegisterRenderRunner(runners, *fetcher);
  if (!registered.ok()) return Fail(registered);
#endif
#ifdef FARM_HAVE_TRAINING_JOBS
  // JOB_KIND_PREPARE with face models, JOB_KIND_TRAIN with farm-train; the same models folder.
  if (farm::StatusOr<farm::agent::WorkerModels> models = farm::agent::LoadWorkerModels();
      models.ok()) {
    registered = farm::agent::RegisterTrainingRunners(runners, *fetcher, cache_dir, *models);
    if (!registered.ok()) return Fail(registered);
  } else {
    std::fprintf(stderr, "farm-agent: prepare and train jobs disabled: %s\n",
                 models.status().ToString().c_str());
  }
#endif

  std::fprintf(stderr, "farm-agent %s: %u slots, %u threads per job, farmd at %s\n",
               options.agent_id.c_str(), static_cast<unsigned>(options.slots),
               static_cast<unsigned>(options.compute_threads), options.endpoint.c_str());
  farm::StatusOr<std::unique_ptr<farm::agent::Agent>> agent =
      farm::agent::Agent::Create(std::move(options), &runners);
  if (!agent.ok()) return Fail(agent.status());

  farm::Status done = (*agent)->Run(g_stop);
  if (!done.ok()) return Fail(done);
  return 0;
}
