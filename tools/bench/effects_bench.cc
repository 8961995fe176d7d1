// bench_effects: `farmctl effects` end to end over a large sweep (issue 14 §7: 100k renders
// under 1 s).
//
//   bench_effects [--renders N] [--seeds N] [--runs N] [--db PATH] [--farmctl PATH] [-- EXTRA ARGS]
//
// Builds (or reuses, when --db names an existing file) a sweep of N renders through the
// Store API: sampler x cfg x pose x tone x seeds (4 x 5 x 5 x 2 x N/200), each with a score
// that is a fixed function of its parameters plus seeded noise, about 8 % without a face.
// Then runs `farmctl effects SWEEP --json` --runs times as a process (open, query, analysis,
// JSON out) and prints each wall time, the median and the machine.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "farm/store/store.h"
#include "scored_sweep_fixture.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  std::int64_t renders = 100000;
  std::int64_t runs = 5;
  std::string db_path;
  std::string farmctl = BENCH_FARMCTL_PATH;
  std::string extra;  // appended to the effects command line
};

bool ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--") {
      for (++i; i < argc; ++i) args->extra += std::string(" ") + argv[i];
      return true;
    }
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    if (flag == "--renders") {
      args->renders = std::atoll(value.c_str());
    } else if (flag == "--runs") {
      args->runs = std::atoll(value.c_str());
    } else if (flag == "--db") {
      args->db_path = value;
    } else if (flag == "--farmctl") {
      args->farmctl = value;
    } else {
      return false;
    }
  }
  return args->renders > 0 && args->runs > 0;
}

std::vector<farmctl_test::ScoredRender> Grid(std::int64_t count) {
  const char* samplers[] = {"Euler a", "Euler", "DPM++ 2M", "DPM++ SDE"};
  const double sampler_effect[] = {0.02, 0.0, 0.04, 0.01};
  const double cfgs[] = {4, 5, 6, 7, 8};
  const char* poses[] = {"front", "three_quarter_left", "three_quarter_right", "profile_left", "over_shoulder"};
  const double pose_effect[] = {0.05, 0.03, 0.03, -0.08, -0.12};
  const char* tones[] = {"warm", "cool"};
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 0.06);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<farmctl_test::ScoredRender> out;
  out.reserve(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    std::int64_t k = i;
    const int s = static_cast<int>(k % 4); k /= 4;
    const int c = static_cast<int>(k % 5); k /= 5;
    const int p = static_cast<int>(k % 5); k /= 5;
    const int t = static_cast<int>(k % 2); k /= 2;
    farmctl_test::ScoredRender r;
    r.params = farmctl_test::BaseRender();
    r.params.sampler = samplers[s];
    r.params.cfg = cfgs[c];
    r.params.pose = poses[p];
    r.params.tone = tones[t];
    r.params.seed = static_cast<std::uint64_t>(1000 + k);
    const double cfg_effect = -0.01 * (cfgs[c] - 6) * (cfgs[c] - 6);
    const double score = 0.55 + sampler_effect[s] + pose_effect[p] + cfg_effect + noise(rng);
    if (unit(rng) > 0.08 + (p >= 3 ? 0.1 : 0.0)) r.score = score;
    out.push_back(std::move(r));
  }
  return out;
}

double RunOnce(const std::string& command) {
  const auto start = Clock::now();
  const int status = std::system(command.c_str());
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (status != 0) {
    std::cerr << "bench_effects: command failed (status " << status << "): " << command << "\n";
    std::exit(1);
  }
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    std::cerr << "usage: bench_effects [--renders N] [--runs N] [--db PATH] [--farmctl PATH] [-- EXTRA]\n";
    return 2;
  }
  if (args.db_path.empty()) {
    std::string pattern = (fs::temp_directory_path() / "bench_effects_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return 1;
    args.db_path = pattern + "/farm.db";
  }
  std::int64_t sweep_id = 1;
  if (!fs::exists(args.db_path)) {
    auto store = farm::store::Store::Open(args.db_path, farm::store::OpenMode::kReadWrite);
    if (!store.ok()) {
      std::cerr << store.status().ToString() << "\n";
      return 1;
    }
    const auto start = Clock::now();
    auto sweep = farmctl_test::AddScoredSweep(**store, "effects-bench", Grid(args.renders));
    if (!sweep.ok()) {
      std::cerr << sweep.status().ToString() << "\n";
      return 1;
    }
    sweep_id = *sweep;
    std::cout << "built sweep " << sweep_id << " with " << args.renders << " scored renders in "
              << std::chrono::duration<double>(Clock::now() - start).count() << " s: " << args.db_path << "\n";
  }
  const std::string command = args.farmctl + " effects " + std::to_string(sweep_id) + " --db '" + args.db_path +
                              "' --json" + args.extra + " > /dev/null";
  std::cout << "command: " << command << "\n";
  std::vector<double> times;
  for (std::int64_t i = 0; i < args.runs; ++i) {
    times.push_back(RunOnce(command));
    std::cout << "run " << i + 1 << ": " << times.back() << " s\n";
  }
  std::sort(times.begin(), times.end());
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::cout << "effects over " << args.renders << " renders: median " << times[times.size() / 2] << " s, min "
            << times.front() << " s (" << std::thread::hardware_concurrency() << " hardware threads, host "
            << host << ")\n";
  return 0;
}
