// JOB_KIND_SYNTHETIC: a test workload for load and fault tests (never a render).
//
// params_json: {"cpu_ms": N, "bytes": M, "fail": false, "seed": S}, every key optional
// (defaults 0, 0, false, 0); unknown keys, wrong types and out-of-range values are a
// kFailed outcome whose error names the key. The job burns N ms of CPU on its thread
// (checking cancellation every ~2 ms), then returns M bytes as the artifact "output"
// (application/octet-stream) or, with "fail": true, fails with an error saying so (a
// transient failure, retried elsewhere; malformed params are a permanent one).
// The bytes are SHA-256(canonical params || little-endian 64-bit block counter), block
// after block, so equal params give equal bytes on every machine.
#pragma once

#include <cstdint>
#include <string>

#include "farm/agent/job_runner.h"

namespace farm::agent {

// Limits that keep a typo from exhausting an agent.
inline constexpr uint64_t kSyntheticMaxCpuMs = 24ull * 3600 * 1000;
inline constexpr uint64_t kSyntheticMaxBytes = 1ull << 30;

struct SyntheticParams {
  uint64_t cpu_ms = 0;
  uint64_t bytes = 0;
  bool fail = false;
  uint64_t seed = 0;
};

// InvalidArgument with the offending key on malformed JSON or bad values.
StatusOr<SyntheticParams> ParseSyntheticParams(const std::string& params_json);

// The deterministic output for `params` (see above). Pure; thread-safe.
std::string SyntheticBytes(const SyntheticParams& params);

class SyntheticRunner : public JobRunner {
 public:
  studiofarm::v1::JobKind kind() const override { return studiofarm::v1::JOB_KIND_SYNTHETIC; }
  JobOutcome Run(const JobSpec& spec, const ProgressFn& progress,
                 const CancellationToken& cancel) override;
};

}  // namespace farm::agent
