#include "remote_commands.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "http_client.h"
#include "known_farms.h"
#include "progress_bar.h"
#include "spec_check.h"
#include "sweep_counts.h"

namespace farmctl {
namespace {

using nlohmann::json;

struct RemoteArgs {
  std::string endpoint;
  std::string token;
  std::string fingerprint;  // pin of an https:// endpoint
  std::string known_farms;  // where pins are looked up when --fingerprint is not given
  std::int64_t sweep_id = 0;
  std::int64_t job_id = 0;
  std::string state;
  std::int64_t limit = 100;
  std::string spec;
  bool synthetic = false;
  std::string agent_id;
  bool wait = false;
  double timeout_s = 0;
};

// Missing keys show as "-" rather than aborting the table.
std::string Field(const json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || object[key].is_null()) return "-";
  const json& value = object[key];
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// Table rows of `list[key]` with `columns` as headers and keys.
void PrintList(const json& answer, const char* key, const std::vector<const char*>& columns) {
  std::vector<std::vector<std::string>> rows(1);
  for (const char* column : columns) rows[0].push_back(column);
  if (answer.contains(key) && answer[key].is_array()) {
    for (const json& item : answer[key]) {
      rows.emplace_back();
      for (const char* column : columns) rows.back().push_back(Field(item, column));
    }
  }
  PrintTable(rows);
}

farm::StatusOr<ApiClient> Client(const RemoteArgs& args) {
  if (args.endpoint.empty()) {
    return farm::InvalidArgument(
        "no farmd endpoint: pass --endpoint HOST:PORT or set $STUDIOFARM_ENDPOINT");
  }
  FARM_ASSIGN_OR_RETURN(std::string pin, PinFor(args.endpoint, args.fingerprint, args.known_farms));
  return ApiClient(args.endpoint, args.token, std::chrono::seconds(10), pin);
}

// Runs `call` against the API and prints its answer: raw with --json, else via `print`.
template <typename Call, typename Print>
int Remote(const GlobalOptions& options, const RemoteArgs& args, Call call, Print print) {
  auto client = Client(args);
  if (!client.ok()) return ReportError(options, client.status());
  farm::StatusOr<json> answer = call(*client);
  if (!answer.ok()) return ReportError(options, answer.status());
  if (options.json) {
    std::cout << answer->dump(2) << "\n";
  } else {
    try {
      print(*answer);
    } catch (const json::exception& e) {
      return ReportError(options, farm::DataLoss(std::string("unexpected answer: ") + e.what()));
    }
  }
  return kExitOk;
}

void PrintSweep(const json& sweep) {
  JobCounts c = CountsOfSweep(sweep);
  c.unrunnable_reason.clear();  // every reason follows in full
  std::cout << "sweep " << Field(sweep, "id") << " '" << Field(sweep, "name")
            << "': " << Field(sweep, "state") << "\n"
            << CountsLine(c) << "\n";
  if (!c.search.empty()) std::cout << "search: " << c.search << "\n";
  if (c.unrunnable > 0) PrintUnrunnable(std::cout, sweep);
}

std::string Escape(const std::string& text) {
  std::string out;
  for (unsigned char ch : text) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.') {
      out += static_cast<char>(ch);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  }
  return out;
}

int Submit(const GlobalOptions& options, const std::string& config_dir, const RemoteArgs& args) {
  // farmd resolves files itself; locally only the spec's own checks (as `sweep validate`).
  SpecCheckResult checked = CheckSpecFile(args.spec, config_dir, options.models_dir, false);
  if (!checked.ok) return ReportSpecProblems(options, checked);
  const json body = {{"spec", checked.spec.text},
                     {"file_name", std::filesystem::path(args.spec).filename().string()},
                     {"synthetic", args.synthetic}};
  return Remote(
      options, args, [&](const ApiClient& api) { return api.Post("/api/v1/sweeps", body); },
      [](const json& answer) {
        std::cout << "submitted sweep " << Field(answer, "sweep_id") << ": "
                  << Field(answer, "jobs_created") << " new jobs of " << Field(answer, "jobs_total")
                  << "\n";
      });
}

// The agent's row in GET /api/v1/agents; null when farmd does not list it.
json FindAgent(const json& answer, const std::string& id) {
  if (answer.contains("agents") && answer["agents"].is_array()) {
    for (const json& agent : answer["agents"]) {
      if (agent.value("id", "") == id) return agent;
    }
  }
  return nullptr;
}

// `agents drain|resume AGENT_ID`; with --wait, polls once a second until the drained
// agent runs nothing (or is offline), a status line on stderr, failing after --timeout.
int SetDraining(const GlobalOptions& options, const RemoteArgs& args, bool drain) {
  const std::string target =
      "/api/v1/agents/" + Escape(args.agent_id) + (drain ? "/drain" : "/resume");
  const int posted = Remote(
      options, args, [&](const ApiClient& api) { return api.Post(target, json::object()); },
      [&](const json& answer) {
        std::cout << "agent " << args.agent_id << ": " << Field(answer, "state") << ", "
                  << Field(answer, "busy_slots") << " busy slots"
                  << (drain ? " (no new work until `farmctl agents resume`)" : "") << "\n";
      });
  if (posted != kExitOk || !drain || !args.wait) return posted;
  auto client = Client(args);
  if (!client.ok()) return ReportError(options, client.status());
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    farm::StatusOr<json> answer = client->Get("/api/v1/agents");
    if (!answer.ok()) return ReportError(options, answer.status());
    const json agent = FindAgent(*answer, args.agent_id);
    if (agent.is_null()) {
      return ReportError(options, farm::NotFound("farmd no longer lists agent '" + args.agent_id + "'"));
    }
    const std::string state = agent.value("state", "");
    const int busy = agent.value("busy_slots", 0);
    if (busy == 0 || state == "offline" || state == "lost") {
      std::cerr << "agent " << args.agent_id << ": drained (" << state << ", nothing running)\n";
      return kExitOk;
    }
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (args.timeout_s > 0 && waited >= args.timeout_s) {
      return ReportError(options, farm::Status(farm::StatusCode::kTimedOut, 
                                      "agent '" + args.agent_id + "' still runs " +
                                      std::to_string(busy) + " jobs after " +
                                      std::to_string(static_cast<int>(waited)) + " s"));
    }
    std::cerr << "\ragent " << args.agent_id << ": " << state << ", " << busy
              << " jobs still running (" << static_cast<int>(waited) << " s)" << std::flush;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

void AddConnectionOptions(CLI::App* command, RemoteArgs& args) {
  command->add_option("--endpoint", args.endpoint,
                      "farmd's HTTP API, https://HOST:PORT, or HOST:PORT for plain HTTP on "
                      "loopback (default: $STUDIOFARM_ENDPOINT)");
  command->add_option("--fingerprint", args.fingerprint,
                      "sha256:<hex> of farmd's certificate for https:// (default: "
                      "$STUDIOFARM_FINGERPRINT, else the known farms file)");
  command->add_option("--token", args.token, "API bearer token (default: $STUDIOFARM_TOKEN)");
}

}  // namespace

void AddRemoteCommands(CLI::App& app, GlobalOptions& options, const std::string& config_dir,
                       const ApiEnvironment& environment, int& exit_code) {
  auto make_args = [&environment] {
    auto args = std::make_shared<RemoteArgs>();
    args->endpoint = environment.endpoint;
    args->token = environment.token;
    args->fingerprint = environment.fingerprint;
    args->known_farms = environment.known_farms;
    return args;
  };

  auto status = make_args();
  CLI::App* status_cmd =
      app.add_subcommand("status", "A running farmd's sweeps, or one sweep's job counts by state");
  status_cmd->add_option("SWEEP_ID", status->sweep_id, "Sweep to show")->check(CLI::PositiveNumber);
  AddConnectionOptions(status_cmd, *status);
  status_cmd->callback([&options, &exit_code, status] {
    if (status->sweep_id > 0) {
      exit_code = Remote(
          options, *status,
          [&](const ApiClient& api) {
            return api.Get("/api/v1/sweeps/" + std::to_string(status->sweep_id));
          },
          PrintSweep);
    } else {
      exit_code = Remote(
          options, *status, [](const ApiClient& api) { return api.Get("/api/v1/sweeps"); },
          [](const json& answer) {
            PrintList(answer, "sweeps", {"id", "name", "state", "priority"});
          });
    }
  });

  auto jobs = make_args();
  CLI::App* jobs_cmd = app.add_subcommand("jobs", "Jobs of a sweep on a running farmd");
  jobs_cmd->add_option("--sweep", jobs->sweep_id, "Sweep id")
      ->required()
      ->check(CLI::PositiveNumber);
  jobs_cmd->add_option("--state", jobs->state,
                       "Only jobs in this state (queued, leased, succeeded, failed, ...)");
  jobs_cmd->add_option("--limit", jobs->limit, "Most jobs to list")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{100000}))
      ->capture_default_str();
  AddConnectionOptions(jobs_cmd, *jobs);
  jobs_cmd->callback([&options, &exit_code, jobs] {
    std::string target = "/api/v1/jobs?sweep=" + std::to_string(jobs->sweep_id) +
                         "&limit=" + std::to_string(jobs->limit);
    if (!jobs->state.empty()) target += "&state=" + Escape(jobs->state);
    exit_code = Remote(
        options, *jobs, [&](const ApiClient& api) { return api.Get(target); },
        [](const json& answer) {
          PrintList(answer, "jobs",
                    {"id", "kind", "state", "attempt_count", "param_hash", "last_error"});
        });
  });

  auto agents = make_args();
  CLI::App* agents_cmd = app.add_subcommand("agents", "Agents known to a running farmd");
  AddConnectionOptions(agents_cmd, *agents);
  for (const bool drain : {true, false}) {
    auto args = make_args();
    CLI::App* command =
        drain ? agents_cmd->add_subcommand(
                    "drain",
                    "No new work for an agent: it finishes its running jobs. Kept across its "
                    "reconnects and restarts and farmd's restarts until `agents resume`")
              : agents_cmd->add_subcommand("resume", "End an agent's drain: it gets new work");
    command->add_option("AGENT_ID", args->agent_id, "Agent id (as `farmctl agents` lists)")
        ->required();
    if (drain) {
      command->add_flag("--wait", args->wait,
                        "Wait until the agent runs nothing (then stop or upgrade it safely)");
      command->add_option("--timeout", args->timeout_s,
                          "With --wait: fail after this many seconds (0: wait as long as it takes)")
          ->check(CLI::NonNegativeNumber);
    }
    AddConnectionOptions(command, *args);
    command->callback([&options, &exit_code, args, drain] {
      exit_code = SetDraining(options, *args, drain);
    });
  }
  agents_cmd->callback([&options, &exit_code, agents, agents_cmd] {
    if (!agents_cmd->get_subcommands().empty()) return;  // drain or resume ran
    exit_code = Remote(
        options, *agents, [](const ApiClient& api) { return api.Get("/api/v1/agents"); },
        [](const json& answer) {
          PrintList(answer, "agents", {"id", "hostname", "state", "drain_requested", "slots",
                                      "busy_slots", "device", "version"});
        });
  });

  auto cancel = make_args();
  CLI::App* cancel_cmd =
      app.add_subcommand("cancel", "Cancel a sweep (SWEEP_ID) or one job (--job ID)");
  auto* sweep_opt = cancel_cmd->add_option("SWEEP_ID", cancel->sweep_id, "Sweep to cancel")
                        ->check(CLI::PositiveNumber);
  auto* job_opt =
      cancel_cmd->add_option("--job", cancel->job_id, "Job to cancel")->check(CLI::PositiveNumber);
  sweep_opt->excludes(job_opt);
  AddConnectionOptions(cancel_cmd, *cancel);
  cancel_cmd->callback([&options, &exit_code, cancel] {
    if (cancel->job_id <= 0 && cancel->sweep_id <= 0) {
      throw CLI::RequiredError("SWEEP_ID or --job");  // a usage error: exit 2
    }
    const std::string target =
        cancel->job_id > 0 ? "/api/v1/jobs/" + std::to_string(cancel->job_id) + "/cancel"
                           : "/api/v1/sweeps/" + std::to_string(cancel->sweep_id) + "/cancel";
    exit_code = Remote(
        options, *cancel, [&](const ApiClient& api) { return api.Post(target, json::object()); },
        [&](const json&) {
          std::cout << "cancelled " << (cancel->job_id > 0 ? "job " : "sweep ")
                    << (cancel->job_id > 0 ? cancel->job_id : cancel->sweep_id) << "\n";
        });
  });

  auto submit = make_args();
  CLI::App* submit_cmd = app.add_subcommand("submit", "Submit a sweep spec to a running farmd");
  submit_cmd->add_option("SPEC", submit->spec, "Sweep spec (YAML)")->required();
  submit_cmd->add_flag("--synthetic", submit->synthetic,
                       "Submit every job as a synthetic stand-in (exercises farmd and the agents "
                       "without models); default: the spec's real render, score and train jobs");
  AddConnectionOptions(submit_cmd, *submit);
  submit_cmd->callback([&options, &config_dir, &exit_code, submit] {
    exit_code = Submit(options, config_dir, *submit);
  });
}

}  // namespace farmctl
