// The plug-in point for work an agent can do: one JobRunner per job kind.
//
// Runners know nothing about sockets or leases' wire form: they get the offer's kind and
// parameters, report progress through a callback and return an outcome with artifacts as
// byte buffers. The agent turns the outcome into ArtifactChunks and a JobResult.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "farm.pb.h"
#include "farm/schemas/status.h"

namespace farm::agent {

// Why a running job is asked to stop. Set by the agent's socket thread, read by the job's
// thread; thread-safe.
class CancellationToken {
 public:
  enum class Reason { kNone = 0, kCancelled, kReleased };

  // The first request wins: a job cancelled by farmd stays cancelled during shutdown.
  void Request(Reason reason);
  bool stop_requested() const { return reason_.load(std::memory_order_acquire) != 0; }
  Reason reason() const { return static_cast<Reason>(reason_.load(std::memory_order_acquire)); }

 private:
  std::atomic<int> reason_{0};
};

struct ProgressUpdate {
  std::string stage;  // "burn", "txt2img", "train", ...
  uint32_t step = 0;
  uint32_t total_steps = 0;
  std::string message;
};

// Called from the job's own thread; the agent coalesces updates, so calling it often is
// cheap but only the latest update per job is guaranteed to be sent.
using ProgressFn = std::function<void(const ProgressUpdate&)>;

struct JobSpec {
  uint64_t job_id = 0;
  uint32_t attempt = 0;
  studiofarm::v1::JobKind kind = studiofarm::v1::JOB_KIND_UNSPECIFIED;
  std::string param_hash;
  std::string params_json;
  uint32_t gang_rank = 0;
  uint32_t gang_size = 0;
  // For gang jobs: the hostname each seat's agent registered with, in rank order (empty
  // when farmd did not say).
  std::vector<std::string> gang_hosts;
  uint32_t compute_threads = 1;  // intra-job parallelism the runner may use
};

struct OutputArtifact {
  std::string name;        // role in the result: "output", "image", "lora@1600"
  std::string media_type;  // "application/octet-stream", "image/png"
  std::string bytes;
};

enum class JobStatus { kSucceeded, kFailed, kCancelled };

struct JobOutcome {
  JobStatus status = JobStatus::kFailed;
  std::string error;  // for a person: what failed and where; empty on success
  std::map<std::string, double> metrics;
  std::vector<OutputArtifact> artifacts;
  // For kFailed: the job cannot succeed on any agent, so farmd fails it at once instead
  // of retrying it elsewhere (JobResult.failure_kind). Set it through FailedOutcome.
  bool permanent = false;
};

// Whether a failure with this code means the job cannot succeed on any agent:
// kInvalidArgument (bad parameters; a model file with a malformed header or of the wrong
// architecture) and kDataLoss (a truncated or corrupt file; models are named by content
// hash, so every agent holds the same bytes). Every other code is transient: kNotFound
// and kFailedPrecondition describe this agent (a model missing from its models folder,
// no face models configured; another agent may have them), kInternal and kUnavailable a
// crash or exhausted memory, kTimedOut a slow moment.
bool IsPermanentFailure(StatusCode code);

// A kFailed outcome with status.ToString() as the error, classified by its code.
JobOutcome FailedOutcome(const Status& status);

// One kind of work. Run() is called on a job thread, possibly for several jobs at once
// (one per slot), so implementations must be thread-safe for concurrent Run() calls.
// Run() must return promptly (within tens of milliseconds) once `cancel` asks it to stop,
// with JobStatus::kCancelled. Bad parameters are a kFailed outcome, never an exception.
class JobRunner {
 public:
  virtual ~JobRunner() = default;
  virtual studiofarm::v1::JobKind kind() const = 0;
  virtual JobOutcome Run(const JobSpec& spec, const ProgressFn& progress,
                         const CancellationToken& cancel) = 0;
  // SHA-256 of the models it keeps loaded between jobs (reported to farmd, which prefers
  // agents holding a job's models). Thread-safe.
  virtual std::vector<std::string> held_models() const;
};

// Runners by job kind. Filled in main() before the agent starts; read-only afterwards,
// so concurrent Find() calls are safe once filling is done.
class RunnerRegistry {
 public:
  // InvalidArgument if a runner for the same kind is already registered or `runner` is null.
  Status Register(std::unique_ptr<JobRunner> runner);
  // Null when no runner handles `kind`; the registry keeps ownership.
  JobRunner* Find(studiofarm::v1::JobKind kind) const;
  // The kinds the agent advertises in Register.capabilities, in ascending order.
  std::vector<studiofarm::v1::JobKind> kinds() const;
  // Every runner's held_models(), sorted and unique.
  std::vector<std::string> held_models() const;

 private:
  std::map<int, std::unique_ptr<JobRunner>> runners_;
};

}  // namespace farm::agent
