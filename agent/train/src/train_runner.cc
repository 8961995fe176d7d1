#include "farm/agent/train_runner.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "farm/agent/train_config.h"
#include "farm/agent/train_launch.h"
#include "farm/schemas/child_process.h"

namespace farm::agent {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

// A file farm-train wrote; DataLoss when it cannot be read (an empty artifact would pass
// for a checkpoint).
StatusOr<std::string> ReadOutput(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return DataLoss(path.string() + ": farm-train reported it but it cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

JobOutcome Cancelled(const std::string& why) {
  JobOutcome outcome;
  outcome.status = JobStatus::kCancelled;
  outcome.error = why;
  return outcome;
}

std::string StepMessage(const json& e) {
  char text[160];
  std::snprintf(text, sizeof text, "loss %.4f  lr %.2e  %.2f s/step  ETA %.0f s", e.value("loss", 0.0),
                e.value("lr", 0.0), e.value("seconds_per_step", 0.0), e.value("eta_seconds", 0.0));
  return text;
}

std::string ThisHost() {
  char host[256] = {};
  return ::gethostname(host, sizeof(host) - 1) == 0 ? host : "";
}

// The gang's hosts that are not this one (empty: every rank runs here).
std::vector<std::string> RemoteHosts(const std::vector<std::string>& gang_hosts) {
  const std::string self = ThisHost();
  std::vector<std::string> remote;
  for (const std::string& host : gang_hosts) {
    if (host != self && host != "localhost" && host != "127.0.0.1") remote.push_back(host);
  }
  return remote;
}

int LocalRanks(const std::vector<std::string>& gang_hosts) {
  return static_cast<int>(gang_hosts.size() - RemoteHosts(gang_hosts).size());
}

}  // namespace

TrainRunner::TrainRunner(TrainRunnerOptions options) : options_(std::move(options)) {}

JobOutcome TrainRunner::Run(const JobSpec& spec, const ProgressFn& progress, const CancellationToken& cancel) {
  if (spec.gang_rank > 0) {
    // A partner seat: rank 0's agent starts every rank; this slot is held until the job ends.
    while (!cancel.stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return Cancelled("partner seat of rank " + std::to_string(spec.gang_rank) + " released");
  }
  StatusOr<TrainRunConfig> config = ParseTrainConfig(spec.params_json);
  if (!config.ok()) return FailedOutcome(config.status());
  if (!options_.models) return FailedOutcome(FailedPrecondition("train runner: no model index"));
  StatusOr<ModelEntry> checkpoint = options_.models->Find(config->checkpoint_sha256);
  if (!checkpoint.ok()) return FailedOutcome(checkpoint.status());
  StatusOr<std::string> dataset = options_.dataset(spec.params_json, cancel);
  if (cancel.stop_requested()) return Cancelled("cancelled while fetching the dataset");
  if (!dataset.ok()) return FailedOutcome(dataset.status().WithContext("dataset"));

  const fs::path out = fs::path(options_.work_dir) / spec.param_hash;
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return FailedOutcome(Unavailable(out.string() + ": " + ec.message()));
  std::ofstream(out / "params.json") << spec.params_json;
  fs::remove(out / "result.json", ec);  // a result belongs to one finished attempt

  const int ranks = std::max<int>(1, static_cast<int>(spec.gang_size));
  const std::vector<std::string> remote = RemoteHosts(spec.gang_hosts);
  int threads = options_.threads_per_rank;
  if (threads <= 0) {
    const int local_ranks = remote.empty() ? ranks : std::max(1, LocalRanks(spec.gang_hosts));
    threads = std::max(1, static_cast<int>(spec.compute_threads) / local_ranks);
  }
  std::vector<std::string> args = {options_.farm_train, "--checkpoint", checkpoint->path, "--dataset", *dataset,
                                   "--out", out.string(), "--params", (out / "params.json").string(),
                                   "--threads", std::to_string(threads), "--json"};
  if (!options_.face_models_dir.empty()) {
    args.push_back("--face-models");
    args.push_back(options_.face_models_dir);
  }
  LaunchRequest launch;
  launch.ranks = ranks;
  launch.train_args = args;
  if (!remote.empty()) {
    // The gang spans hosts: mpirun places the ranks by the lease's hosts (rank order).
    launch.hostfile = (out / "hostfile").string();
    std::ofstream(launch.hostfile) << Hostfile(spec.gang_hosts);
  }
  launch.mpirun = FindExecutable(options_.mpirun);
  launch.slurm = std::getenv("SLURM_JOB_ID") != nullptr;
  if (launch.ranks > 1 && !launch.slurm && launch.mpirun.empty()) {
    return FailedOutcome(FailedPrecondition("a gang of " + std::to_string(launch.ranks) + " ranks needs '" +
                                            options_.mpirun + "' (OpenMPI), which is not on PATH"));
  }
  launch.root = ::geteuid() == 0;
  launch.cores = static_cast<int>(std::thread::hardware_concurrency());
  ChildOptions child_options;
  child_options.argv = LaunchCommand(launch);
  child_options.pipe_stdout = true;
  child_options.log_path = (out / "train.log").string();
  StatusOr<ChildProcess> child = ChildProcess::Start(child_options);
  if (!child.ok()) return FailedOutcome(child.status().WithContext("starting farm-train"));

  std::string error_event;
  int64_t total = config->trainer.max_steps;
  while (true) {
    if (cancel.stop_requested()) {
      child->Stop(std::chrono::seconds(3));
      return Cancelled("training stopped at farmd's request");
    }
    StatusOr<std::string> line = child->ReadLine(std::chrono::milliseconds(100));
    if (!line.ok()) {
      if (line.status().code() == StatusCode::kTimedOut) continue;
      break;  // stdout closed: farm-train ended
    }
    const json event = json::parse(*line, nullptr, false);
    if (event.is_discarded() || !event.is_object()) continue;
    const std::string kind = event.value("event", "");
    if (kind == "start") {
      total = event.value("total", total);
      progress({"train", static_cast<uint32_t>(event.value("step", 0)), static_cast<uint32_t>(total),
                "started on " + std::to_string(event.value("world_size", 1)) + " rank(s)" +
                    (event.value("resumed_from", 0) > 0 ? ", resumed from step " +
                                                              std::to_string(event.value("resumed_from", 0))
                                                        : "")});
    } else if (kind == "step") {
      progress({"train", static_cast<uint32_t>(event.value("step", 0)), static_cast<uint32_t>(total),
                StepMessage(event)});
    } else if (kind == "validation") {
      progress({"validate", static_cast<uint32_t>(event.value("step", 0)), static_cast<uint32_t>(total),
                "face-ID score " + (event["score"].is_number() ? std::to_string(event["score"].get<double>())
                                                               : std::string("none (no face)"))});
    } else if (kind == "error") {
      error_event = event.value("message", "");
    }
  }
  const int code = child->Stop(std::chrono::seconds(3));
  if (cancel.stop_requested()) return Cancelled("training stopped at farmd's request");
  if (code != 0) {
    const std::string log = TailOfFile(child_options.log_path, 12);
    if (code >= 128) {
      return Cancelled("a training rank was killed (exit " + std::to_string(code) +
                       "); the retry resumes from the last saved step. " + log);
    }
    const std::string message = error_event.empty() ? "farm-train exited with " + std::to_string(code) + ": " + log
                                                    : error_event;
    JobOutcome failed = FailedOutcome(Internal(message));
    // A non-finite loss recurs with the same seed and data on any agent.
    failed.permanent = message.find("loss is") != std::string::npos ||
                       message.find("gradient norm is") != std::string::npos;
    return failed;
  }

  StatusOr<std::string> result_text = ReadOutput(out / "result.json");
  if (!result_text.ok()) return FailedOutcome(result_text.status());
  const json result = json::parse(*result_text, nullptr, false);
  if (result.is_discarded()) return FailedOutcome(DataLoss((out / "result.json").string() + " is not JSON"));
  JobOutcome outcome;
  outcome.status = JobStatus::kSucceeded;
  auto attach = [&](const std::string& name, const char* media_type, const fs::path& path) -> Status {
    FARM_ASSIGN_OR_RETURN(std::string bytes, ReadOutput(path));
    outcome.artifacts.push_back({name, media_type, std::move(bytes)});
    return Status::Ok();
  };
  Status attached = Status::Ok();
  for (const json& c : result.value("checkpoints", json::array())) {
    if (!c.value("saved", false) || !attached.ok()) continue;
    attached = attach("lora@" + std::to_string(c["step"].get<int64_t>()), "application/octet-stream",
                      out / c["file"].get<std::string>());
  }
  if (attached.ok() && result.contains("validation")) {
    const json& selection = result["validation"]["selection"];
    outcome.metrics["best_step"] = selection.value("best_step", 0);
    if (selection.contains("ensemble")) {
      attached = attach("lora@ensemble", "application/octet-stream", out / selection["ensemble"]["file"].get<std::string>());
    }
  }
  outcome.artifacts.push_back({"train_result", "application/json", result.dump(2)});
  if (attached.ok()) attached = attach("train_metrics", "application/x-ndjson", out / "metrics.jsonl");
  if (!attached.ok()) return FailedOutcome(attached);
  outcome.metrics["steps"] = result.value("steps", 0);
  outcome.metrics["world_size"] = result.value("world_size", 1);
  outcome.metrics["seconds_train"] = result.value("seconds", 0.0);
  outcome.metrics["resumed_from"] = result.value("resumed_from", 0);
  std::ifstream metrics(out / "metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    const json m = json::parse(line, nullptr, false);
    if (!m.is_discarded()) outcome.metrics["final_loss"] = m.value("loss", 0.0);
  }
  return outcome;
}

}  // namespace farm::agent
