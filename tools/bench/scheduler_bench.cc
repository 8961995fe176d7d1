// Scheduler cost per job: A agents with S slots each and J queued render jobs of 50
// requirement classes, dispatched and completed to the end on a fake clock. Measures the
// pure decision cost (no I/O); farmd's end-to-end dispatch rate is a separate benchmark.
//
//   bench_scheduler [--agents A] [--jobs J] [--slots S]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <variant>

#include "farm/scheduler/scheduler.h"

namespace {

using namespace farm::scheduler;

constexpr std::uint64_t kGiB = 1ull << 30;

std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "bench_scheduler: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  long agents = 2000, jobs = 200000, slots = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    const long value = std::atol(argv[i + 1]);
    if (std::strcmp(argv[i], "--agents") == 0) agents = value;
    else if (std::strcmp(argv[i], "--jobs") == 0) jobs = value;
    else if (std::strcmp(argv[i], "--slots") == 0) slots = value;
    else return Fail(std::string("unknown option ") + argv[i]);
  }
  if (agents <= 0 || jobs <= 0 || slots <= 0) return Fail("counts must be positive");

  FakeClock clock;
  auto created = Scheduler::Create(clock, {});
  if (!created.ok()) return Fail(created.status().ToString());
  Scheduler& s = **created;
  for (long i = 0; i < agents; ++i) {
    AgentSpec agent;
    agent.id = "agent-" + std::to_string(i);
    agent.device = i % 2 == 0 ? DeviceKind::kCuda : DeviceKind::kCpu;
    agent.device_memory_bytes = (i % 4 < 2 ? 80 : 24) * kGiB;
    agent.slots = static_cast<int>(slots);
    agent.cached_models = {"ckpt", "lora-" + std::to_string(i % 50)};
    if (auto st = s.RegisterAgent(agent); !st.ok()) return Fail(st.ToString());
  }

  const auto start = std::chrono::steady_clock::now();
  std::vector<JobSpec> specs;
  specs.reserve(jobs);
  for (JobId id = 1; id <= static_cast<JobId>(jobs); ++id) {
    JobSpec job;
    job.id = id;
    job.sweep_id = 1 + id % 7;
    job.kind = JobKind::kRender;
    job.priority = static_cast<int>(id % 3);
    job.param_hash = "h" + std::to_string(id);
    job.device = id % 5 == 0 ? DeviceKind::kCpu : DeviceKind::kCuda;
    job.min_device_memory_bytes = (id % 10 == 0 ? 40 : 8) * kGiB;
    job.required_models = {"ckpt", "lora-" + std::to_string(id % 50)};
    specs.push_back(std::move(job));
  }
  if (auto st = s.SubmitJobs(std::move(specs)); !st.ok()) return Fail(st.ToString());

  long done = 0, rounds = 0;
  while (done < jobs && rounds < 1'000'000) {
    ++rounds;
    clock.Advance(100);
    s.Tick();
    for (const Decision& d : s.TakeDecisions()) {
      const auto* dispatch = std::get_if<Dispatch>(&d);
      if (dispatch == nullptr) continue;
      auto ack = s.ReportResult(dispatch->placements[0].agent,
                                ResultReport{dispatch->lease(), ResultKind::kSucceeded, ""});
      if (!ack.ok()) return Fail(ack.status().ToString());
      ++done;
    }
    for (long i = 0; i < agents && rounds % 10 == 0; ++i) {
      if (auto st = s.Heartbeat("agent-" + std::to_string(i)); !st.ok()) return Fail(st.ToString());
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (done != jobs) return Fail("only " + std::to_string(done) + " jobs completed");

  std::printf("machine: %u cores, %s\n", std::thread::hardware_concurrency(), CpuModel().c_str());
  std::printf("command: bench_scheduler --agents %ld --jobs %ld --slots %ld\n", agents, jobs, slots);
  std::printf("submitted, dispatched and completed %ld jobs in %ld rounds: %.3f s\n", done, rounds,
              seconds);
  std::printf("%.2f us per job (submit + match + lease + result), %.0f jobs/s\n",
              seconds * 1e6 / static_cast<double>(done), static_cast<double>(done) / seconds);
  return 0;
}
