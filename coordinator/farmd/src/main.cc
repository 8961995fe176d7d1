// farmd: the coordinator process. Parses the farm config (here only), opens the store,
// binds the agent link and the HTTP API, prints its endpoints as one JSON line on stdout
// (for `farmctl run`), then runs the loop until SIGTERM or SIGINT, or until the store
// fails (exit status 1 after logging the batch that could not be stored).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "allow_list_reload.h"
#include "farm/farmd/coordinator.h"
#include "farm/farmd/http_server.h"
#include "farm/sweep/preset_files.h"
#include "farm/transport/curve_keys.h"
#include "farm/transport/zmq_agent_link.h"
#include "farm_config.h"
#include "http_setup.h"

namespace {
namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

std::string ExpandHome(const std::string& path) {
  if (path.rfind("~/", 0) != 0) return path;
  const char* home = std::getenv("HOME");
  return home ? std::string(home) + path.substr(1) : path;
}

int Fail(const farm::Status& status) {
  spdlog::critical("{}", status.ToString());
  return 1;
}

// Presets that submitted specs refer to; a missing file means none of that kind.
farm::StatusOr<farm::sweep::SpecPresets> LoadPresets(const std::string& dir) {
  farm::sweep::SpecPresets presets;
  if (dir.empty()) return presets;
  std::vector<farm::sweep::Diagnostic> problems;
  FARM_RETURN_IF_ERROR(farm::sweep::LoadPresetFiles(dir, &presets, &problems));
  FARM_RETURN_IF_ERROR(farm::sweep::DiagnosticsToStatus(problems));
  return presets;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("farmd"));  // stdout is for the JSON line
  // Past a file-size limit (RLIMIT_FSIZE) the kernel kills a writer with SIGXFSZ. Ignored,
  // the write fails with EFBIG instead: farmd logs which batch could not be stored and
  // exits non-zero (fail-stop), as for a full disk.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"farmd: the StudioFarm coordinator"};
  std::string config_path, db, artifacts, listen_agents, listen_http, token, server_key_file,
      allow_keys_file, presets_dir, spec_dir = ".", read_token, tokens_file, http_tls, tls_cert,
                                    tls_key;
  bool no_curve = false, synthetic = false, allow_plain_http = false;
  app.add_option("--config", config_path, "farm config (e.g. farm_configs/local.yaml)");
  app.add_option("--db", db, "SQLite database (overrides store.database)");
  app.add_option("--artifacts", artifacts, "artifact root (overrides store.artifacts)");
  app.add_option("--listen-agents", listen_agents, "ZeroMQ endpoint for agents");
  app.add_option("--listen-http", listen_http, "host:port of the HTTP API");
  app.add_option("--token", token,
                 "admin bearer token of the HTTP API: sha256:<hex> (farmctl token new). A plain "
                 "token is accepted with a warning (ps shows it): prefer --tokens-file or "
                 "$FARMD_TOKEN");
  app.add_option("--read-token", read_token, "read-only (GET) bearer token, same forms");
  app.add_option("--tokens-file", tokens_file,
                 "file of '<admin|read> sha256:<hex>' lines (farmctl token new prints one); "
                 "'-' reads them from stdin");
  app.add_option("--http-tls", http_tls,
                 "HTTPS for the HTTP API: on, off, or auto (default: HTTPS unless the listen "
                 "address is loopback; overrides coordinator.http_tls)")
      ->check(CLI::IsMember({"on", "off", "auto"}));
  app.add_flag("--allow-plain-http", allow_plain_http,
               "allow plain HTTP on a non-loopback listen address (logged as a warning)");
  app.add_option("--tls-cert", tls_cert,
                 "HTTPS certificate (PEM; default <database folder>/tls/farmd.crt, made at "
                 "first start)");
  app.add_option("--tls-key", tls_key, "its private key (default <database folder>/tls/farmd.key)");
  app.add_option("--server-key-file", server_key_file, "CURVE key file with the server secret");
  app.add_option("--allow-keys-file", allow_keys_file, "admitted agent public keys");
  app.add_flag("--no-curve", no_curve, "no CURVE encryption (loopback tests only)");
  app.add_option("--presets-dir", presets_dir, "tones.yaml/pipelines.yaml (default: config dir)");
  app.add_option("--spec-dir", spec_dir, "base of relative paths in submitted specs");
  app.add_flag("--synthetic", synthetic, "submissions run as synthetic stand-ins by default");
  app.set_version_flag("--version", FARM_VERSION " (malloc: " FARM_ALLOCATOR ")");
  CLI11_PARSE(app, argc, argv);
  farm::farmd::ScrubTokenArgs(argc, argv);

  farm::farmd::FarmConfig config;
  if (!config_path.empty()) {
    auto text = farm::sweep::ReadTextFile(config_path);
    if (!text.ok()) return Fail(text.status());
    auto parsed = farm::farmd::ParseFarmConfig(*text, config_path);
    if (!parsed.ok()) return Fail(parsed.status());
    config = *parsed;
    if (presets_dir.empty()) presets_dir = fs::path(config_path).parent_path().string();
  }
  if (!db.empty()) config.database = db;
  if (!artifacts.empty()) config.artifacts = artifacts;
  if (!listen_agents.empty()) config.agent_endpoint = listen_agents;
  if (!listen_http.empty()) config.http_listen = listen_http;
  if (no_curve) config.curve = "off";
  if (!http_tls.empty()) config.http_tls = http_tls;
  if (!tls_cert.empty()) config.tls_cert = tls_cert;
  if (!tls_key.empty()) config.tls_key = tls_key;

  farm::transport::ZmqLinkOptions link_options;
  link_options.endpoint = config.agent_endpoint;
  link_options.curve = config.curve != "off";
  std::string server_public_key;
  if (link_options.curve) {
    if (server_key_file.empty() || allow_keys_file.empty()) {
      return Fail(farm::InvalidArgument(
          "CURVE needs --server-key-file and --allow-keys-file (farmctl run generates them; "
          "--no-curve for loopback tests)"));
    }
    auto keys = farm::transport::ReadCurveKeyFile(server_key_file);
    if (!keys.ok()) return Fail(keys.status());
    if (keys->secret_key.empty()) {
      return Fail(farm::InvalidArgument(server_key_file + ": no secret key"));
    }
    auto allowed = farm::transport::ReadAllowListFile(allow_keys_file);
    if (!allowed.ok()) return Fail(allowed.status());
    link_options.server_secret_key = keys->secret_key;
    link_options.allowed_client_keys = *allowed;
    server_public_key = keys->public_key;
  }
  link_options.log = [](farm::transport::LinkLogLevel level, const std::string& message) {
    if (level == farm::transport::LinkLogLevel::kWarning)
      spdlog::warn("link: {}", message);
    else
      spdlog::info("link: {}", message);
  };

  std::error_code ec;
  const fs::path db_parent = fs::path(config.database).parent_path();
  if (!db_parent.empty()) fs::create_directories(db_parent, ec);
  auto store = farm::store::Store::Open(config.database, farm::store::OpenMode::kReadWrite);
  if (!store.ok()) return Fail(store.status());
  auto link = farm::transport::ListenForAgents(link_options);
  if (!link.ok()) return Fail(link.status());

  farm::farmd::CoordinatorOptions options;
  options.artifact_root = config.artifacts;
  options.scheduler.heartbeat_interval_ms = config.heartbeat_interval_ms;
  options.scheduler.heartbeat_liveness = config.heartbeat_liveness;
  options.scheduler.lease_timeout_ms = config.lease_timeout_ms;
  options.scheduler.max_distinct_agent_failures = config.max_failures_per_job;
  farm::scheduler::SystemClock clock;
  auto coordinator = farm::farmd::Coordinator::Create(options, **store, **link, clock);
  if (!coordinator.ok()) return Fail(coordinator.status());

  farm::farmd::HttpServerOptions http_options;
  http_options.listen = config.http_listen;
  auto tokens = farm::farmd::LoadApiTokens({token, read_token, tokens_file});
  if (!tokens.ok()) return Fail(tokens.status());
  http_options.api.tokens = std::move(*tokens);
  auto tls = farm::farmd::ChooseHttpTls(config, allow_plain_http);
  if (!tls.ok()) return Fail(tls.status());
  http_options.tls = std::move(tls->tls);
  http_options.api.spec_dir = spec_dir;
  http_options.api.models_dir = ExpandHome(config.models_dir);
  http_options.api.submit.synthetic = synthetic;
  auto presets = LoadPresets(presets_dir);
  if (!presets.ok()) return Fail(presets.status());
  http_options.api.presets = std::move(*presets);
  if (http_options.api.tokens.empty()) {
    spdlog::warn("no --tokens-file, $FARMD_TOKEN or --token: the HTTP API accepts every request");
  }
  auto http = farm::farmd::HttpServer::Start(**coordinator, std::move(http_options));
  if (!http.ok()) return Fail(http.status());

  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  nlohmann::json ready = {
      {"agent_endpoint", (*link)->endpoint()},
      {"http", (*http)->endpoint()},
      {"http_url", ((*http)->tls() ? "https://" : "http://") + (*http)->endpoint()},
      {"tls_fingerprint", tls->fingerprint},
      {"session_id", (*coordinator)->session_id()},
      {"database", config.database},
      {"artifacts", config.artifacts},
      {"curve", link_options.curve},
      {"server_public_key", server_public_key},
      {"pid", static_cast<long>(::getpid())}};
  std::cout << ready.dump() << std::endl;

  std::unique_ptr<farm::farmd::AllowListReloader> reloader;
  if (link_options.curve) {
    reloader =
        std::make_unique<farm::farmd::AllowListReloader>(allow_keys_file, **coordinator, **link);
  }
  farm::Status status = (*coordinator)->Run(g_stop);
  reloader.reset();
  (*http)->Stop();
  if (!status.ok()) return Fail(status);
  // Close in dependency order: the loop's users first, then the link, then the store.
  http->reset();
  coordinator->reset();
  link->reset();
  spdlog::info("agent link closed");
  store->reset();
  spdlog::info("farmd stopped");
  return 0;
}
