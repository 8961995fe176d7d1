// End-to-end dispatch: a real farmd and A real farm-agents (S slots each) on loopback
// run J zero-time synthetic jobs (cpu_ms 0, bytes 0), every result committed to SQLite
// before its ack. Prints jobs/s and farmd's CPU time per job (utime+stime from
// /proc/<pid>/stat), the agents' CPU time per job and how busy all cores were, for each
// A of --agents; with --compare FARMD also for a second farmd binary in the same run, and
// the ratio.
//
//   bench_dispatch --agents 1,8,64 --jobs 50000 --slots 4 [--compare /tmp/farmd-before]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "farm/schemas/child_process.h"
#include "farm/store/store.h"
#include "http_client.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// utime + stime of `pid` in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // fields 14 and 15 (1-based)
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Busy and total CPU seconds of the whole machine, all cores (/proc/stat's first line).
struct MachineCpu {
  double busy = 0;
  double total = 0;
};
MachineCpu MachineCpuSeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  MachineCpu result;
  unsigned long long value = 0;
  for (int i = 0; i < 8 && in >> value; ++i) {  // user nice system idle iowait irq softirq steal
    result.total += static_cast<double>(value);
    if (i != 3 && i != 4) result.busy += static_cast<double>(value);
  }
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  result.busy /= tick;
  result.total /= tick;
  return result;
}

// Job counts through a read-only store connection (farmd's CPU is not charged for it).
// It also reads an older schema (the farmd of --compare may be older): jobs and attempts
// are the same in every version.
struct JobCounts {
  long long finished = -1, succeeded = -1, attempts_succeeded = -1;
};

class JobCounter {
 public:
  explicit JobCounter(const std::string& path) {
    farm::store::StoreOptions options;
    options.read_older_schema = true;
    options.busy_timeout_ms = 1000;
    auto store = farm::store::Store::Open(path, farm::store::OpenMode::kReadOnly, options);
    if (store.ok()) {
      store_ = std::move(*store);
    } else {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    }
  }
  bool ok() const { return store_ != nullptr; }

  // Polled while the sweep runs: a queued or a leased job, if any (one row each through
  // the state index, so the poll costs the system under test little; counting finished
  // jobs walks a range that grows with every result). Errors count as unfinished.
  bool AnyUnfinished() {
    using farm::store::JobState;
    for (JobState state : {JobState::kQueued, JobState::kLeased}) {
      farm::store::JobFilter filter;
      filter.state = state;
      filter.limit = 1;
      auto jobs = store_->ListJobs(filter);
      if (!jobs.ok() || !jobs->empty()) return true;
    }
    return false;
  }

  JobCounts Count() {
    JobCounts counts;
    auto by_state = store_->CountJobsByState();
    auto attempts = store_->CountAttempts(farm::store::AttemptOutcome::kSucceeded);
    if (!by_state.ok() || !attempts.ok()) return counts;
    auto of = [&](farm::store::JobState state) {
      auto it = by_state->find(state);
      return it == by_state->end() ? 0LL : static_cast<long long>(it->second);
    };
    counts.succeeded = of(farm::store::JobState::kSucceeded);
    counts.finished = counts.succeeded + of(farm::store::JobState::kFailed);
    counts.attempts_succeeded = *attempts;
    return counts;
  }

 private:
  std::unique_ptr<farm::store::Store> store_;
};

struct Run {
  double submit_s = 0;    // POST until farmd answered (CreateSweep of J jobs)
  double dispatch_s = 0;  // answer until every job's result was committed
  double submit_cpu_s = 0;
  double dispatch_cpu_s = 0;
  double agents_cpu_s = 0;  // all agents during dispatch
  double machine_busy = 0;  // share of all cores busy during dispatch (any process)
  long long succeeded = 0;
  long long attempts_ok = 0;
  bool ok = false;
};

std::string Seconds(double s) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f", s);
  return buffer;
}

Run RunOnce(const std::string& farmd_path, const std::string& agent_path, int agents, int slots,
            int prefetch, long long jobs, const fs::path& dir) {
  Run run;
  fs::remove_all(dir);
  fs::create_directories(dir / "photos");
  std::ofstream(dir / "photos" / "a.jpg") << "not a photo";  // the spec's identity
  const std::string db = (dir / "farm.db").string();
  farm::ChildOptions farmd_options;
  farmd_options.argv = {farmd_path,
                        "--no-curve",
                        "--db",
                        db,
                        "--artifacts",
                        (dir / "artifacts").string(),
                        "--listen-agents",
                        "tcp://127.0.0.1:0",
                        "--listen-http",
                        "127.0.0.1:0",
                        "--token",
                        "bench",
                        "--spec-dir",
                        dir.string()};
  farmd_options.pipe_stdout = true;
  farmd_options.log_path = (dir / "farmd.log").string();
  auto farmd = farm::ChildProcess::Start(farmd_options);
  if (!farmd.ok()) {
    std::fprintf(stderr, "farmd: %s\n", farmd.status().ToString().c_str());
    return run;
  }
  auto line = farmd->ReadLine(std::chrono::seconds(30));
  const auto ready = nlohmann::json::parse(line.ok() ? *line : "", nullptr, false);
  if (ready.is_discarded()) {
    std::fprintf(stderr, "farmd did not start:\n%s\n",
                 farm::TailOfFile(farmd_options.log_path, 10).c_str());
    return run;
  }
  std::vector<farm::ChildProcess> workers;
  for (int i = 0; i < agents; ++i) {
    farm::ChildOptions agent;
    agent.argv = {agent_path,
                  "--connect",
                  ready.value("agent_endpoint", ""),
                  "--id",
                  "bench-" + std::to_string(i),
                  "--slots",
                  std::to_string(slots),

                  "--shutdown-grace-ms",
                  "0"};
    // Only when asked: an older agent binary has no --prefetch.
    if (prefetch > 0) {
      agent.argv.push_back("--prefetch");
      agent.argv.push_back(std::to_string(prefetch));
    }
    agent.log_path = (dir / ("agent-" + std::to_string(i) + ".log")).string();
    auto child = farm::ChildProcess::Start(agent);
    if (child.ok()) workers.push_back(std::move(*child));
  }
  const farmctl::ApiClient api(ready.value("http", ""), "bench", std::chrono::seconds(600));
  // Every agent registered before the clock starts.
  for (int i = 0; i < 300; ++i) {
    auto listed = api.Get("/api/v1/agents");
    if (listed.ok() &&
        static_cast<int>(listed->value("agents", nlohmann::json::array()).size()) >= agents)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::string spec =
      "name: dispatch-bench\n"
      "identity: {name: b, photos: photos/*.jpg, token: sks person}\n"
      "checkpoint: {path: none.safetensors, sha256: " +
      std::string(64, 'a') +
      "}\n"
      "render: {prompt: \"photo of {token}\", sampler: Euler, seeds: {base: 1, count: " +
      std::to_string(jobs) + "}}\n";
  const nlohmann::json body = {{"spec", spec},
                               {"file_name", "bench.yaml"},
                               {"synthetic", true},
                               {"synthetic_cpu_ms", 0},
                               {"synthetic_bytes", 0}};
  const auto agents_cpu = [&] {
    double sum = 0;
    for (const farm::ChildProcess& worker : workers) sum += CpuSeconds(worker.pid());
    return sum;
  };
  const double cpu0 = CpuSeconds(farmd->pid());
  const auto t0 = Clock::now();
  auto submitted = api.Post("/api/v1/sweeps", body);
  const auto t1 = Clock::now();
  const double cpu1 = CpuSeconds(farmd->pid());
  const double agents1 = agents_cpu();
  const MachineCpu machine1 = MachineCpuSeconds();
  if (!submitted.ok()) {
    std::fprintf(stderr, "submit: %s\n", submitted.status().ToString().c_str());
    return run;
  }
  JobCounter reader(db);
  if (!reader.ok()) {
    std::fprintf(stderr, "cannot open %s read-only\n", db.c_str());
    return run;
  }
  while (reader.AnyUnfinished()) {
    if (!farmd->Running()) {
      std::fprintf(stderr, "farmd died:\n%s\n",
                   farm::TailOfFile(farmd_options.log_path, 10).c_str());
      return run;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto t2 = Clock::now();
  const double cpu2 = CpuSeconds(farmd->pid());
  const double agents2 = agents_cpu();
  const MachineCpu machine2 = MachineCpuSeconds();
  for (farm::ChildProcess& worker : workers) worker.Stop(std::chrono::seconds(2));
  farmd->Stop(std::chrono::seconds(10));
  run.submit_s = std::chrono::duration<double>(t1 - t0).count();
  run.dispatch_s = std::chrono::duration<double>(t2 - t1).count();
  run.submit_cpu_s = cpu1 - cpu0;
  run.dispatch_cpu_s = cpu2 - cpu1;
  run.agents_cpu_s = agents2 - agents1;
  if (machine2.total > machine1.total) {
    run.machine_busy = (machine2.busy - machine1.busy) / (machine2.total - machine1.total);
  }
  const JobCounts final_counts = reader.Count();
  run.succeeded = final_counts.succeeded;
  run.attempts_ok = final_counts.attempts_succeeded;
  run.ok = run.succeeded == jobs && run.attempts_ok == jobs;
  return run;
}

void Print(const char* label, int agents, int slots, int prefetch, long long jobs, const Run& r) {
  std::printf(
      "%s A=%d S=%d%s J=%lld: submit %s s (farmd CPU %s s); dispatch %s s = %.0f jobs/s, farmd "
      "CPU %.1f us/job (agents %.1f, all cores %.0f %% busy); end to end %.0f jobs/s; %lld "
      "succeeded, %lld successful attempts%s\n",
      label, agents, slots, prefetch > 0 ? (" P=" + std::to_string(prefetch)).c_str() : "", jobs,
      Seconds(r.submit_s).c_str(), Seconds(r.submit_cpu_s).c_str(), Seconds(r.dispatch_s).c_str(),
      r.dispatch_s > 0 ? jobs / r.dispatch_s : 0.0,
      r.dispatch_cpu_s * 1e6 / static_cast<double>(jobs),
      r.agents_cpu_s * 1e6 / static_cast<double>(jobs), 100 * r.machine_busy,
      jobs / (r.submit_s + r.dispatch_s), r.succeeded, r.attempts_ok,
      r.ok ? "" : "  ** NOT ALL RESULTS COMMITTED **");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_dispatch: farmd + farm-agents on loopback, zero-time synthetic jobs"};
  std::vector<int> agent_counts = {1, 8, 64};
  long long jobs = 50000;
  int slots = 4;
  int prefetch = 0;
  std::string farmd = BENCH_FARMD_PATH, agent = BENCH_AGENT_PATH, compare,
              dir = (fs::temp_directory_path() / "bench_dispatch").string();
  app.add_option("--agents", agent_counts, "agent counts to run, e.g. 1,8,64")->delimiter(',');
  app.add_option("--jobs", jobs, "jobs per run")->check(CLI::Range(1LL, 10000000LL));
  app.add_option("--slots", slots, "slots per agent")->check(CLI::Range(1, 1024));
  app.add_option("--prefetch", prefetch, "leases each agent queues beyond its slots (0: none)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--farmd", farmd, "farmd binary");
  app.add_option("--agent", agent, "farm-agent binary");
  app.add_option("--compare", compare, "a second farmd binary, run right after each A");
  app.add_option("--dir", dir, "scratch folder");
  CLI11_PARSE(app, argc, argv);

  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) load[0] = load[1] = load[2] = -1;
  std::printf("machine: %u cores, load average %.2f %.2f %.2f\n",
              std::thread::hardware_concurrency(), load[0], load[1], load[2]);
  for (int a : agent_counts) {
    const Run run = RunOnce(farmd, agent, a, slots, prefetch, jobs, fs::path(dir) / "a");
    Print("farmd        ", a, slots, prefetch, jobs, run);
    if (!compare.empty()) {
      const Run other = RunOnce(compare, agent, a, slots, prefetch, jobs, fs::path(dir) / "b");
      Print("farmd (cmp)  ", a, slots, prefetch, jobs, other);
      if (run.dispatch_s > 0 && other.dispatch_s > 0) {
        std::printf("ratio A=%d: %.2fx jobs/s, %.2fx less farmd CPU per job\n", a,
                    other.dispatch_s / run.dispatch_s, other.dispatch_cpu_s / run.dispatch_cpu_s);
      }
    }
  }
  fs::remove_all(dir);
  return 0;
}
