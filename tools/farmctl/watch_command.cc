#include "watch_command.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "http_client.h"
#include "known_farms.h"
#include "progress_bar.h"
#include "sweep_counts.h"

namespace farmctl {
namespace {

using nlohmann::json;

std::atomic<bool> g_watch_interrupted{false};
void OnWatchInterrupt(int) { g_watch_interrupted.store(true); }

// Polls that may fail in a row (farmd busy or restarting) before watch gives up.
constexpr int kMaxFailedPolls = 3;

struct WatchArgs {
  std::string endpoint;
  std::string token;
  std::string fingerprint;
  std::string known_farms;
  std::int64_t sweep_id = 0;
  int interval_ms = 500;
};

// One line of --json output; errors too, so every line of the stream parses alone.
void EmitLine(const json& line) { std::cout << line.dump() << "\n" << std::flush; }

int WatchError(const GlobalOptions& options, const farm::Status& status) {
  if (!options.json) return ReportError(options, status);
  EmitLine({{"event", "error"},
            {"ok", false},
            {"error",
             {{"code", farm::StatusCodeName(status.code())}, {"message", status.message()}}}});
  return kExitFailure;
}

double Round1(double value) { return std::round(value * 10) / 10; }

json CountsJson(const JobCounts& c) {
  return {{"total", c.total},         {"done", c.finished()},     {"succeeded", c.succeeded},
          {"failed", c.failed},       {"running", c.running},     {"queued", c.queued},
          {"cancelled", c.cancelled}, {"skipped", c.skipped},
          {"unrunnable", c.unrunnable}};
}

bool SameCounts(const JobCounts& a, const JobCounts& b) {
  return a.total == b.total && a.queued == b.queued && a.running == b.running &&
         a.succeeded == b.succeeded && a.failed == b.failed && a.cancelled == b.cancelled &&
         a.skipped == b.skipped && a.unrunnable == b.unrunnable &&
         a.unrunnable_reason == b.unrunnable_reason && a.training == b.training;
}

// Without SWEEP_ID: the newest sweep (the API lists newest first).
farm::StatusOr<std::int64_t> ResolveSweep(const ApiClient& api, std::int64_t sweep_id) {
  if (sweep_id > 0) return sweep_id;
  FARM_ASSIGN_OR_RETURN(json sweeps, api.Get("/api/v1/sweeps"));
  const json list = sweeps.value("sweeps", json::array());
  if (list.empty()) return farm::NotFound("farmd at " + api.endpoint() + " has no sweeps yet");
  const std::int64_t id = list[0].value("id", std::int64_t{0});
  if (id <= 0) return farm::DataLoss("farmd's sweep list has no id");
  return id;
}

// Sleeps `total` in small slices; false when interrupted meanwhile.
bool SleepUnlessInterrupted(std::chrono::milliseconds total) {
  const auto end = std::chrono::steady_clock::now() + total;
  while (std::chrono::steady_clock::now() < end) {
    if (g_watch_interrupted.load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return !g_watch_interrupted.load();
}

// The sweep's counts; transient failures (nothing answers, timeouts) are retried a few
// times, a wrong id or token is not.
farm::StatusOr<JobCounts> PollCounts(const ApiClient& api, const std::string& target,
                                     int interval_ms, std::string* state) {
  for (int failed = 1;; ++failed) {
    farm::StatusOr<json> sweep = api.Get(target);
    if (sweep.ok()) {
      try {
        *state = sweep->value("state", "");
        return CountsOfSweep(*sweep);
      } catch (const json::exception& e) {
        return farm::DataLoss(std::string("farmd's sweep answer is malformed: ") + e.what());
      }
    }
    const farm::StatusCode code = sweep.status().code();
    const bool transient =
        code == farm::StatusCode::kUnavailable || code == farm::StatusCode::kTimedOut;
    if (!transient || failed >= kMaxFailedPolls) return sweep.status();
    if (!SleepUnlessInterrupted(std::chrono::milliseconds(interval_ms))) return sweep.status();
  }
}

json FirstErrors(const ApiClient& api, std::int64_t sweep_id) {
  json errors = json::array();
  auto failed =
      api.Get("/api/v1/jobs?sweep=" + std::to_string(sweep_id) + "&state=failed&limit=5");
  if (failed.ok() && failed->contains("jobs") && (*failed)["jobs"].is_array()) {
    for (const json& job : (*failed)["jobs"]) {
      errors.push_back(
          {{"job_id", job.value("id", std::int64_t{0})}, {"error", job.value("last_error", "")}});
    }
  }
  return errors;
}

int Watch(const GlobalOptions& options, const WatchArgs& args) {
  if (args.endpoint.empty()) {
    return WatchError(options, farm::InvalidArgument("no farmd endpoint: pass --endpoint "
                                                     "HOST:PORT or set $STUDIOFARM_ENDPOINT"));
  }
  farm::StatusOr<std::string> pin = PinFor(args.endpoint, args.fingerprint, args.known_farms);
  if (!pin.ok()) return WatchError(options, pin.status());
  const ApiClient api(args.endpoint, args.token, std::chrono::seconds(10), *pin);
  farm::StatusOr<std::int64_t> sweep_id = ResolveSweep(api, args.sweep_id);
  if (!sweep_id.ok()) return WatchError(options, sweep_id.status());
  const std::string target = "/api/v1/sweeps/" + std::to_string(*sweep_id);

  // Ctrl-C only stops watching; the sweep is farmd's and keeps running.
  struct sigaction action = {};
  action.sa_handler = OnWatchInterrupt;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int = {}, old_term = {};
  ::sigaction(SIGINT, &action, &old_int);
  ::sigaction(SIGTERM, &action, &old_term);
  ::signal(SIGPIPE, SIG_IGN);
  struct RestoreSignals {
    struct sigaction int_action, term_action;
    ~RestoreSignals() {
      ::sigaction(SIGINT, &int_action, nullptr);
      ::sigaction(SIGTERM, &term_action, nullptr);
    }
  } restore{old_int, old_term};

  ProgressBar progress(std::cerr, ::isatty(STDERR_FILENO));
  PaceMeter pace_meter;
  JobCounts counts, shown;
  std::string state;
  bool first = true;
  while (true) {
    farm::StatusOr<JobCounts> polled = PollCounts(api, target, args.interval_ms, &state);
    if (!polled.ok()) {
      if (g_watch_interrupted.load()) break;
      if (!options.json) progress.Finish(counts);
      return WatchError(options, polled.status());
    }
    counts = *polled;
    const Pace pace = pace_meter.Observe(counts);
    if (options.json) {
      if (first || !SameCounts(counts, shown)) {
        json line = {{"event", "progress"},
                     {"sweep_id", *sweep_id},
                     {"state", state},
                     {"counts", CountsJson(counts)},
                     {"jobs_per_s", Round1(pace.jobs_per_s)},
                     {"eta_s", pace.eta_s < 0 ? json(nullptr) : json(Round1(pace.eta_s))},
                     {"elapsed_s", Round1(pace.elapsed_s)}};
        // Queued jobs no online agent may take: the queue will not move by itself.
        if (counts.unrunnable > 0) line["unrunnable_reason"] = counts.unrunnable_reason;
        // Train jobs' step/total, loss, lr, s/step and ETA from their progress messages.
        if (!counts.training.empty()) line["training"] = counts.training;
        EmitLine(line);
        shown = counts;
      }
    } else {
      progress.Update(counts);
    }
    first = false;
    if (counts.AllTerminal()) break;
    if (!SleepUnlessInterrupted(std::chrono::milliseconds(args.interval_ms))) break;
  }

  if (g_watch_interrupted.load() && !counts.AllTerminal()) {
    if (options.json) {
      EmitLine({{"event", "interrupted"}, {"ok", false}, {"sweep_id", *sweep_id}});
    } else {
      progress.Finish(counts);
      std::cerr << "farmctl: stopped watching; sweep " << *sweep_id << " keeps running\n";
    }
    return kExitInterrupted;
  }
  const bool ok = counts.failed == 0 && counts.cancelled == 0 && counts.skipped == 0;
  const json first_errors = counts.failed > 0 ? FirstErrors(api, *sweep_id) : json::array();
  if (options.json) {
    json done = {{"event", "done"},
                 {"ok", ok},
                 {"sweep_id", *sweep_id},
                 {"state", state},
                 {"counts", CountsJson(counts)},
                 {"first_errors", first_errors}};
    // What a search (spec's search:) ran against the full grid.
    if (!counts.search.empty()) done["search"] = counts.search;
    EmitLine(done);
  } else {
    progress.Finish(counts);
    std::cerr << "farmctl: sweep " << *sweep_id << " " << (ok ? "finished" : "FAILED") << ": "
              << CountsLine(counts) << "\n";
    if (!counts.search.empty()) std::cerr << "farmctl: search: " << counts.search << "\n";
    for (const json& e : first_errors) {
      std::cerr << "  job " << e.value("job_id", std::int64_t{0}) << ": "
                << e.value("error", std::string()) << "\n";
    }
  }
  return ok ? kExitOk : kExitFailure;
}

}  // namespace

void AddWatchCommand(CLI::App& app, GlobalOptions& options, const ApiEnvironment& environment,
                     int& exit_code) {
  auto args = std::make_shared<WatchArgs>();
  args->endpoint = environment.endpoint;
  args->token = environment.token;
  args->fingerprint = environment.fingerprint;
  args->known_farms = environment.known_farms;
  CLI::App* watch = app.add_subcommand(
      "watch",
      "Follow a sweep on a running farmd until every job is finished: done, failed, running "
      "and queued jobs (with the reason when queued jobs cannot run on any online agent), rate and ETA. Exits 0 when every job succeeded, 1 when any failed, "
      "was cancelled or skipped (the first errors are listed), 130 on Ctrl-C (the sweep "
      "keeps running). With --json: one JSON object per line on stdout, "
      "{\"event\":\"progress\",...} whenever the counts change, then {\"event\":\"done\","
      "\"ok\":...}.");
  watch->add_option("SWEEP_ID", args->sweep_id, "Sweep to follow (default: the newest)")
      ->check(CLI::PositiveNumber);
  watch->add_option("--interval-ms", args->interval_ms, "Time between polls of farmd")
      ->check(CLI::Range(50, 60000))
      ->capture_default_str();
  watch->add_option("--endpoint", args->endpoint,
                    "farmd's HTTP API, https://HOST:PORT, or HOST:PORT for plain HTTP on "
                    "loopback (default: $STUDIOFARM_ENDPOINT)");
  watch->add_option("--fingerprint", args->fingerprint,
                    "sha256:<hex> of farmd's certificate for https:// (default: "
                    "$STUDIOFARM_FINGERPRINT, else the known farms file)");
  watch->add_option("--token", args->token, "API bearer token (default: $STUDIOFARM_TOKEN)");
  watch->callback([&options, &exit_code, args] { exit_code = Watch(options, *args); });
}

}  // namespace farmctl
