#include "run_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "farm_defaults.h"
#include "identity_register.h"
#include "http_client.h"
#include "local_farm.h"
#include "program_path.h"
#include "progress_bar.h"
#include "rank_table.h"
#include "spec_check.h"
#include "sweep_counts.h"

#ifndef FARMCTL_FARMD_PATH
#define FARMCTL_FARMD_PATH ""
#endif

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::atomic<bool> g_interrupted{false};
void OnInterrupt(int) { g_interrupted.store(true); }

// Only one `farmctl run` per database: a second farmd would fight over it.
farm::StatusOr<int> LockStateDir(const fs::path& state_dir, bool force) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  const std::string path = (state_dir / "run.lock").string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return farm::Unavailable("cannot open '" + path + "'");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 && !force) {
    ::close(fd);
    return farm::FailedPrecondition("another farmctl run is using " + state_dir.string() +
                                    " (lock " + path + "); wait for it or pass --force");
  }
  return fd;
}

// Sleeps `total` in small slices; false when interrupted meanwhile.
bool SleepUnlessInterrupted(std::chrono::milliseconds total) {
  const auto end = std::chrono::steady_clock::now() + total;
  while (std::chrono::steady_clock::now() < end) {
    if (g_interrupted.load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return !g_interrupted.load();
}

json CountsJson(const JobCounts& c) {
  return {{"total", c.total},         {"succeeded", c.succeeded}, {"failed", c.failed},
          {"cancelled", c.cancelled}, {"skipped", c.skipped},     {"queued", c.queued},
          {"running", c.running}};
}

struct Outcome {
  std::int64_t sweep_id = 0;
  json submitted;  // the API's submit answer
  JobCounts counts;
  json first_errors = json::array();
  bool interrupted = false;
  // Nothing could progress (see kStuckGrace); `unrunnable` is farmd's report of why.
  bool stuck = false;
  json unrunnable = json::object();
};

// How long a sweep must show no running job, queued jobs that no online agent may take,
// and no change in its counts before `run` stops it as stuck. Five heartbeat intervals
// (1 s by default): longer than an agent's liveness window (3 s), so a job requeued from
// a lost agent or an agent that just registered gets its chance, and a requeued job is
// dispatched again within a scheduler tick (~100 ms); short enough that nobody waits
// long on a farm that cannot finish.
constexpr auto kStuckGrace = std::chrono::seconds(5);

// Whether farmd has at least one agent online; false when it cannot say.
bool AnyAgentOnline(const ApiClient& api) {
  farm::StatusOr<json> agents = api.Get("/api/v1/agents");
  if (!agents.ok() || !agents->contains("agents") || !(*agents)["agents"].is_array()) return false;
  for (const json& agent : (*agents)["agents"]) {
    if (agent.is_object() && agent.value("state", "") == "online") return true;
  }
  return false;
}

bool SameProgress(const JobCounts& a, const JobCounts& b) {
  return a.queued == b.queued && a.running == b.running && a.finished() == b.finished() &&
         a.unrunnable == b.unrunnable;
}

// The newest earlier sweep of the same spec text (and the same synthetic choice) with
// nothing failed, cancelled or skipped: resuming attaches to it instead of submitting
// again. 0 when there is none. Synthetic jobs are not shared by param_hash like renders
// are, so without this a resumed synthetic run would redo everything.
farm::StatusOr<std::int64_t> FindResumable(const ApiClient& api, const CheckedSpec& spec,
                                           bool synthetic) {
  const std::string spec_sha256 = farm::Sha256Hex(spec.text);
  FARM_ASSIGN_OR_RETURN(json sweeps, api.Get("/api/v1/sweeps"));
  for (const json& sweep : sweeps.value("sweeps", json::array())) {  // newest first
    if (sweep.value("spec_sha256", "") != spec_sha256) continue;
    const std::int64_t id = sweep.value("id", std::int64_t{0});
    const std::string state = sweep.value("state", "");
    if (id <= 0 || state == "failed" || state == "cancelled") return 0;
    FARM_ASSIGN_OR_RETURN(json detail, api.Get("/api/v1/sweeps/" + std::to_string(id)));
    const JobCounts counts = CountsOfSweep(detail);
    if (counts.failed + counts.cancelled + counts.skipped > 0 || counts.total == 0) return 0;
    FARM_ASSIGN_OR_RETURN(json first,
                          api.Get("/api/v1/jobs?sweep=" + std::to_string(id) + "&limit=1"));
    const json jobs = first.value("jobs", json::array());
    const bool was_synthetic = !jobs.empty() && jobs[0].value("kind", "") == "synthetic";
    return was_synthetic == synthetic ? id : 0;
  }
  return 0;
}

// Score jobs compare renders with the identity's stored descriptors: store the spec's
// identity before the farm starts (once; later runs check it is still the same photos).
farm::Status EnsureIdentity(const GlobalOptions& options, const RunArgs& args,
                            const CheckedSpec& spec, const fs::path& database) {
  FARM_ASSIGN_OR_RETURN(std::unique_ptr<farm::store::Store> store,
                        farm::store::Store::Open(database.string(), farm::store::OpenMode::kReadWrite));
  std::vector<std::string> digests;
  for (const std::string& photo : spec.photo_files) {
    FARM_ASSIGN_OR_RETURN(std::string digest, farm::Sha256File(photo));
    digests.push_back(std::move(digest));
  }
  const std::string photos_sha256 = farm::PhotoSetDigest(digests);
  auto existing = store->GetIdentityByName(spec.identity);
  if (existing.ok()) {
    if (existing->photos_sha256 == photos_sha256) return farm::Status::Ok();
    return farm::FailedPrecondition(
        "identity '" + spec.identity + "' in " + database.string() +
        " was stored from other photos than the spec's identity.photos; rename the spec's "
        "identity, or use another database (--db)");
  }
  if (existing.status().code() != farm::StatusCode::kNotFound) return existing.status();
  IdentityRequest request;
  request.name = spec.identity;
  request.token = spec.identity_token;
  request.photos = spec.photo_files;
  request.pick_largest = spec.identity_pick_largest;
  request.agent_path = FindAgentProgram(args.agent_path);
  request.models_dir = options.models_dir;
  RegisterResult registered = RegisterIdentity(*store, request);
  if (!registered.stored.ok()) return registered.stored.status().WithContext("identity.photos");
  if (!options.json) {
    std::cerr << "farmctl: identity '" << spec.identity << "' stored from "
              << spec.photo_files.size() << " photo" << (spec.photo_files.size() == 1 ? "" : "s")
              << " (face model " << registered.stored->descriptor_model << ")\n";
  }
  return farm::Status::Ok();
}

// The sweep's ranking for the closing report; an error is reported, not fatal.
farm::StatusOr<Ranking> RankSweep(const fs::path& database, std::int64_t sweep_id, int top) {
  FARM_ASSIGN_OR_RETURN(std::unique_ptr<farm::store::Store> store,
                        farm::store::Store::Open(database.string(), farm::store::OpenMode::kReadOnly));
  RankRequest request;
  request.sweep_id = sweep_id;
  request.limit = top;
  return LoadRanking(*store, request);
}

// Submits (or resumes) and waits; the farm is running.
farm::StatusOr<Outcome> SubmitAndWait(const GlobalOptions& options, const RunArgs& args,
                                      const CheckedSpec& spec, LocalFarm& farm) {
  ApiClient api(farm.http_endpoint(), farm.token(), std::chrono::seconds(30));
  Outcome outcome;
  try {
    // A re-evaluation is a new sweep by definition: nothing to resume.
    if (!args.rerender) {
      FARM_ASSIGN_OR_RETURN(outcome.sweep_id, FindResumable(api, spec, args.synthetic));
    }
  } catch (const json::exception& e) {
    return farm::DataLoss(std::string("farmd's sweep list is malformed: ") + e.what());
  }
  if (outcome.sweep_id > 0) {
    outcome.submitted = {{"sweep_id", outcome.sweep_id}, {"jobs_created", 0}, {"resumed", true}};
    if (!options.json) {
      std::cerr << "farmctl: resuming sweep " << outcome.sweep_id << " '" << spec.name << "'\n";
    }
  } else {
    FARM_ASSIGN_OR_RETURN(
        outcome.submitted,
        api.Post("/api/v1/sweeps",
                 {{"spec", spec.text},
                  {"file_name", args.spec},
                  {"synthetic", args.synthetic},
                  {"rerender", args.rerender}}));
    outcome.sweep_id = outcome.submitted.value("sweep_id", std::int64_t{0});
  }
  if (outcome.sweep_id <= 0) return farm::DataLoss("farmd's submit answer has no sweep_id");
  if (!options.json && !outcome.submitted.value("resumed", false)) {
    std::cerr << "farmctl: sweep " << outcome.sweep_id << " '" << spec.name
              << "': " << outcome.submitted.value("jobs_created", 0) << " new jobs, "
              << outcome.submitted.value("renders_shared", 0) << " renders already done or "
              << "pending" << (args.synthetic ? " (synthetic stand-ins)" : "") << "\n";
  }
  if (!options.json) {
    // The token rides in the fragment, which the browser never sends (docs/dashboard.md).
    std::cerr << "farmctl: dashboard http://" << farm.http_endpoint() << "/dashboard/#token="
              << farm.token() << "\n";
  }
  const std::string target = "/api/v1/sweeps/" + std::to_string(outcome.sweep_id);
  ProgressBar progress(std::cerr, !options.json && ::isatty(STDERR_FILENO));
  // Since when nothing could run and nothing changed (while `stuck_clock` is on). Not an
  // optional: GCC 12 warns that its value may be used uninitialized (a false positive).
  bool stuck_clock = false;
  std::chrono::steady_clock::time_point stuck_since{};
  JobCounts stuck_counts;
  while (true) {
    FARM_ASSIGN_OR_RETURN(json sweep, api.Get(target));
    try {
      outcome.counts = CountsOfSweep(sweep);
    } catch (const json::exception& e) {
      return farm::DataLoss(std::string("farmd's sweep answer is malformed: ") + e.what());
    }
    if (!options.json) progress.Update(outcome.counts);
    if (outcome.counts.AllTerminal()) break;
    FARM_RETURN_IF_ERROR(farm.CheckAlive());
    // Blocked children of an unrunnable job count as queued too: with nothing running and
    // nothing changing, none of them can move either.
    const auto now = std::chrono::steady_clock::now();
    if (outcome.counts.running > 0 || outcome.counts.unrunnable == 0 || !AnyAgentOnline(api)) {
      // Agents that are still starting (a first start hashes the models folder) are not
      // a reason to give up: a dead one is caught by CheckAlive.
      stuck_clock = false;
    } else if (!stuck_clock || !SameProgress(outcome.counts, stuck_counts)) {
      stuck_clock = true;
      stuck_since = now;
      stuck_counts = outcome.counts;
    } else if (now - stuck_since >= kStuckGrace) {
      outcome.stuck = true;
      outcome.unrunnable = sweep.value("unrunnable", json::object());
      if (!options.json) progress.Finish(outcome.counts);
      auto cancelled = api.Post(target + "/cancel", json::object());
      if (!cancelled.ok()) std::cerr << "farmctl: " << cancelled.status().message() << "\n";
      break;
    }
    if (!SleepUnlessInterrupted(std::chrono::milliseconds(250))) {
      outcome.interrupted = true;
      if (!options.json) progress.Finish(outcome.counts);
      auto cancelled = api.Post(target + "/cancel", json::object());
      if (!cancelled.ok()) std::cerr << "farmctl: " << cancelled.status().message() << "\n";
      return outcome;
    }
  }
  if (!options.json && !outcome.stuck) progress.Finish(outcome.counts);
  if (outcome.counts.failed > 0) {
    auto failed =
        api.Get("/api/v1/jobs?sweep=" + std::to_string(outcome.sweep_id) + "&state=failed&limit=5");
    if (failed.ok() && failed->contains("jobs")) {
      for (const json& job : (*failed)["jobs"]) {
        outcome.first_errors.push_back(
            {{"job_id", job.value("id", std::int64_t{0})}, {"error", job.value("last_error", "")}});
      }
    }
  }
  return outcome;
}

}  // namespace

int RunSweep(const GlobalOptions& options, const std::string& config_dir, const RunArgs& args,
             RunSummary* summary) {
  // Checked before anything starts: a bad spec never costs a process.
  // Real jobs read the files the spec names: check them all first. Synthetic stand-ins
  // read none.
  SpecCheckResult checked =
      CheckSpecFile(args.spec, config_dir, options.models_dir, true, !args.synthetic);
  if (!checked.ok) return ReportSpecProblems(options, checked);

  // The flags win; otherwise the farm config, read (and refused) before anything starts.
  const std::string defaults_path = (fs::path(config_dir) / "local.yaml").string();
  farm::StatusOr<LocalFarmDefaults> defaults = ReadLocalFarmDefaults(defaults_path);
  if (!defaults.ok()) return ReportError(options, defaults.status());

  const fs::path database = fs::absolute(EffectiveDbPath(options));
  const fs::path state_dir = database.parent_path();
  auto lock = LockStateDir(state_dir, args.force);
  if (!lock.ok()) return ReportError(options, lock.status());
  if (!args.synthetic && checked.spec.score_jobs > 0) {
    if (farm::Status identity = EnsureIdentity(options, args, checked.spec, database); !identity.ok()) {
      ::close(*lock);
      return ReportError(options, identity);
    }
  }

  struct sigaction action = {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int = {}, old_term = {};
  ::sigaction(SIGINT, &action, &old_int);
  ::sigaction(SIGTERM, &action, &old_term);
  ::signal(SIGPIPE, SIG_IGN);

  LocalFarmOptions farm_options;
  farm_options.farmd_path = FindProgram(args.farmd_path, FARMCTL_FARMD_PATH, "farmd");
  farm_options.agent_path = FindAgentProgram(args.agent_path);
  farm_options.database = database.string();
  farm_options.state_dir = state_dir.string();
  farm_options.presets_dir = config_dir;
  farm_options.spec_dir = fs::absolute(args.spec).parent_path().string();
  farm_options.models_dir = options.models_dir;
  farm_options.agents = args.agents > 0 ? args.agents : defaults->agents;
  farm_options.slots = args.slots > 0 ? args.slots : defaults->slots;
  farm_options.device = defaults->device;
  farm_options.threads = defaults->threads;
  farm_options.model_cache_mb = args.model_cache_mb;
  farm_options.stage_images = args.stage_images;

  farm::StatusOr<Outcome> outcome = farm::Unavailable("interrupted");
  {
    auto farm = LocalFarm::Start(farm_options, g_interrupted);
    if (farm.ok()) {
      outcome = SubmitAndWait(options, args, checked.spec, **farm);
      (*farm)->Stop();
    } else {
      outcome = farm.status();
    }
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  ::close(*lock);

  if (g_interrupted.load() || (outcome.ok() && outcome->interrupted)) {
    if (options.json) {
      json out = {{"ok", false}, {"interrupted", true}};
      if (outcome.ok()) out["sweep_id"] = outcome->sweep_id;
      std::cout << out.dump(2) << "\n";
    } else {
      std::cerr << "farmctl: interrupted; the sweep was cancelled and the farm stopped. Run the "
                   "same command again to resume.\n";
    }
    return kExitInterrupted;
  }
  if (!outcome.ok()) return ReportError(options, outcome.status());
  const JobCounts& c = outcome->counts;
  const bool ok = !outcome->stuck && c.failed == 0 && c.cancelled == 0 && c.skipped == 0;
  if (summary) {
    summary->sweep_id = outcome->sweep_id;
    summary->spec_name = checked.spec.name;
    summary->database = database;
    summary->counts = c;
    summary->ok = ok;
    summary->first_errors = outcome->first_errors;
  }
  if (!args.print_result) {
    if (!ok && !options.json) {
      std::cerr << "farmctl: sweep " << outcome->sweep_id << " "
                << (outcome->stuck ? "CANNOT FINISH" : "FAILED") << ": " << CountsLine(c)
                << "\nfarmctl: logs in " << (state_dir / "logs").string() << "\n";
    }
    return ok ? kExitOk : kExitFailure;
  }
  std::optional<farm::StatusOr<Ranking>> ranking;
  if (!args.synthetic && checked.spec.score_jobs > 0) {
    ranking = RankSweep(database, outcome->sweep_id, args.top);
  }
  if (options.json) {
    json out = {{"ok", ok},
                {"sweep_id", outcome->sweep_id},
                {"name", checked.spec.name},
                {"synthetic", args.synthetic},
                {"resumed", outcome->submitted.value("resumed", false)},
                {"jobs_created", outcome->submitted.value("jobs_created", 0)},
                {"renders_shared", outcome->submitted.value("renders_shared", 0)},
                {"counts", CountsJson(c)},
                {"search", c.search.empty() ? json(nullptr) : json(c.search)},
                {"first_errors", outcome->first_errors},
                {"database", database.string()}};
    if (outcome->stuck) {
      out["stuck"] = true;
      out["unrunnable"] = outcome->unrunnable;
    }
    if (ranking && ranking->ok()) {
      out["ranking"] = {{"identity", (*ranking)->identity},
                        {"metric", (*ranking)->metric},
                        {"renders", RankingRowsJson(**ranking)}};
    } else if (ranking) {
      out["ranking_error"] = ranking->status().ToString();
    }
    std::cout << out.dump(2) << "\n";
  } else {
    JobCounts shown = c;
    if (outcome->stuck) shown.unrunnable_reason.clear();  // every reason follows in full
    std::cerr << "farmctl: sweep " << outcome->sweep_id << " "
              << (ok ? "finished" : outcome->stuck ? "CANNOT FINISH" : "FAILED") << ": "
              << CountsLine(shown) << "\n";
    // A search sweep (search:) ends with what it saved against the full grid.
    if (!c.search.empty()) std::cerr << "farmctl: search: " << c.search << "\n";
    for (const json& e : outcome->first_errors) {
      std::cerr << "  job " << e.value("job_id", std::int64_t{0}) << ": "
                << e.value("error", std::string()) << "\n";
    }
    if (outcome->stuck) {
      PrintUnrunnable(std::cerr, json{{"unrunnable", outcome->unrunnable}});
      std::cerr << "farmctl: nothing ran for "
                << std::chrono::duration_cast<std::chrono::seconds>(kStuckGrace).count()
                << " s and no online agent may take the queued jobs; the sweep was cancelled. "
                   "Fix the cause and run again: finished results are reused.\n";
    }
    if (!ok) std::cerr << "farmctl: logs in " << (state_dir / "logs").string() << "\n";
    if (ranking && ranking->ok()) {
      PrintRanking(std::cout, **ranking);
    } else if (ranking) {
      std::cerr << "farmctl: cannot rank the sweep: " << ranking->status().ToString() << "\n";
    }
  }
  return ok ? kExitOk : kExitFailure;
}

ApiEnvironment ReadApiEnvironment() {
  ApiEnvironment environment;
  if (const char* endpoint = std::getenv("STUDIOFARM_ENDPOINT")) environment.endpoint = endpoint;
  if (const char* token = std::getenv("STUDIOFARM_TOKEN")) environment.token = token;
  if (const char* pin = std::getenv("STUDIOFARM_FINGERPRINT")) environment.fingerprint = pin;
  const char* known = std::getenv("STUDIOFARM_KNOWN_FARMS");
  const char* config_home = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  if (known && *known) {
    environment.known_farms = known;
  } else if (config_home && *config_home) {
    environment.known_farms = std::string(config_home) + "/studiofarm/known_farms";
  } else {
    environment.known_farms = std::string(home ? home : ".") + "/.config/studiofarm/known_farms";
  }
  return environment;
}

void AddRunCommands(CLI::App& app, GlobalOptions& options, const std::string& config_dir,
                    int& exit_code) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* run = app.add_subcommand(
      "run",
      "Run a sweep on this machine: starts farmd and local agents (CURVE, loopback), shows "
      "progress, stops them when every job is finished. Same command again resumes (finished "
      "results are reused). Ctrl-C cancels the sweep and exits 130. Every model file and photo "
      "the spec names is checked first. Exits 1 when a job failed, or when queued jobs can "
      "run on no online agent and nothing changed for 5 s (the sweep is cancelled and the "
      "reasons printed). Keys, logs and artifacts go next to the database (--db).");
  run->add_option("SWEEP", args->spec, "Sweep spec (YAML)")->required();
  run->add_option("--agents", args->agents,
                  "Local agents to start (default: agents.count in the config folder's "
                  "local.yaml, else 2)")
      ->check(CLI::Range(1, kMaxLocalAgents));
  run->add_option("--slots", args->slots,
                  "Jobs each agent runs at once (default: agents.slots in local.yaml, else 1)")
      ->check(CLI::Range(1, kMaxAgentSlots));
  run->add_flag("--synthetic", args->synthetic,
                "Run every job as a synthetic stand-in (exercises farmd and the agents without "
                "models; needed for specs that train LoRAs until agents can train)");
  run->add_option("--top", args->top,
                  "Ranked renders to print when the sweep scores renders (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  run->add_flag("--stage-images", args->stage_images,
                "Also keep the image after every stage of each render (database table "
                "render_stage_images)");
  run->add_option("--model-cache-mb", args->model_cache_mb,
                  "Memory budget of models each agent keeps loaded (default: farm-agent's)")
      ->check(CLI::PositiveNumber);
  run->add_flag("--rerender", args->rerender,
                "Render every record again as new jobs of a new sweep, even those already "
                "rendered, and keep the earlier results beside the new ones (a re-evaluation; "
                "see also farmctl nightly)");
  run->add_flag("--force", args->force,
                "Start even if another farmctl run seems to hold the database");
  run->add_option("--farmd", args->farmd_path, "farmd executable (default: the build's)");
  run->add_option("--agent", args->agent_path, "farm-agent executable (default: the build's)");
  run->callback([&options, &config_dir, &exit_code, args] {
    exit_code = RunSweep(options, config_dir, *args);
  });
}

}  // namespace farmctl
