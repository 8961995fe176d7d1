#include "farm/agent/synthetic_runner.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kCancelCheckEvery = std::chrono::milliseconds(2);

StatusOr<uint64_t> ReadCount(const nlohmann::json& value, const char* key, uint64_t max) {
  if (!value.is_number_integer() && !value.is_number_unsigned()) {
    return InvalidArgument(std::string("synthetic params: \"") + key +
                           "\" must be a non-negative integer, got " + value.dump());
  }
  if (value.is_number_integer() && !value.is_number_unsigned() && value.get<int64_t>() < 0) {
    return InvalidArgument(std::string("synthetic params: \"") + key +
                           "\" must be non-negative, got " + value.dump());
  }
  const uint64_t n = value.get<uint64_t>();
  if (n > max) {
    return InvalidArgument(std::string("synthetic params: \"") + key + "\" = " + std::to_string(n) +
                           " exceeds the limit " + std::to_string(max));
  }
  return n;
}

int HexValue(char c) {
  return (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : 0;
}

// The seed text: the params with every default filled in, keys sorted (canonical JSON), so
// `{"seed":1}` and `{"bytes":0,"seed":1}` name the same stream.
std::string CanonicalSeed(const SyntheticParams& p) {
  return "{\"bytes\":" + std::to_string(p.bytes) + ",\"cpu_ms\":" + std::to_string(p.cpu_ms) +
         ",\"fail\":" + (p.fail ? "true" : "false") + ",\"seed\":" + std::to_string(p.seed) + "}";
}

}  // namespace

StatusOr<SyntheticParams> ParseSyntheticParams(const std::string& params_json) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(params_json.empty() ? std::string("{}") : params_json);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("synthetic params are not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) {
    return InvalidArgument("synthetic params must be a JSON object, got " + doc.dump());
  }
  SyntheticParams params;
  for (const auto& [key, value] : doc.items()) {
    if (key == "cpu_ms") {
      FARM_ASSIGN_OR_RETURN(params.cpu_ms, ReadCount(value, "cpu_ms", kSyntheticMaxCpuMs));
    } else if (key == "bytes") {
      FARM_ASSIGN_OR_RETURN(params.bytes, ReadCount(value, "bytes", kSyntheticMaxBytes));
    } else if (key == "seed") {
      FARM_ASSIGN_OR_RETURN(params.seed, ReadCount(value, "seed", UINT64_MAX));
    } else if (key == "fail") {
      if (!value.is_boolean()) {
        return InvalidArgument("synthetic params: \"fail\" must be true or false, got " +
                               value.dump());
      }
      params.fail = value.get<bool>();
    } else {
      return InvalidArgument("synthetic params: unknown key \"" + key +
                             "\" (expected cpu_ms, bytes, fail, seed)");
    }
  }
  return params;
}

std::string SyntheticBytes(const SyntheticParams& params) {
  const std::string seed = CanonicalSeed(params);
  std::string out;
  out.reserve(params.bytes);
  for (uint64_t block = 0; out.size() < params.bytes; ++block) {
    unsigned char counter[8];
    for (int i = 0; i < 8; ++i) counter[i] = static_cast<unsigned char>(block >> (8 * i));
    Sha256 hasher;
    hasher.Update(seed);
    hasher.Update(counter, sizeof(counter));
    const std::string hex = hasher.FinishHex();
    for (size_t i = 0; i + 1 < hex.size() && out.size() < params.bytes; i += 2) {
      out.push_back(static_cast<char>(HexValue(hex[i]) * 16 + HexValue(hex[i + 1])));
    }
  }
  return out;
}

JobOutcome SyntheticRunner::Run(const JobSpec& spec, const ProgressFn& progress,
                                const CancellationToken& cancel) {
  JobOutcome outcome;
  StatusOr<SyntheticParams> parsed = ParseSyntheticParams(spec.params_json);
  if (!parsed.ok()) {
    outcome.status = JobStatus::kFailed;
    outcome.error = parsed.status().message();
    outcome.permanent = true;  // the same parameters fail on every agent
    return outcome;
  }
  const SyntheticParams& params = *parsed;

  // Busy work whose result is kept so the optimiser cannot drop it.
  const auto start = Clock::now();
  const auto budget = std::chrono::milliseconds(params.cpu_ms);
  const uint32_t total_steps = 10;
  uint32_t reported = 0;
  std::string sink = "burn";
  while (Clock::now() - start < budget) {
    if (cancel.stop_requested()) {
      outcome.status = JobStatus::kCancelled;
      outcome.error =
          "synthetic job stopped after " +
          std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()) +
          " ms of " + std::to_string(params.cpu_ms);
      return outcome;
    }
    const auto slice_end = Clock::now() + kCancelCheckEvery;
    while (Clock::now() < slice_end) sink = Sha256Hex(sink);
    const auto elapsed = Clock::now() - start;
    const auto step =
        static_cast<uint32_t>(std::min<int64_t>(total_steps, elapsed * total_steps / budget));
    if (step > reported && step < total_steps && progress) {
      reported = step;
      progress({"burn", step, total_steps, ""});
    }
  }
  if (progress) progress({"burn", total_steps, total_steps, sink.substr(0, 8)});

  outcome.metrics["cpu_ms"] = static_cast<double>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
  if (params.fail) {
    outcome.status = JobStatus::kFailed;
    outcome.error = "synthetic job failed on request (params \"fail\": true)";
    return outcome;
  }
  outcome.status = JobStatus::kSucceeded;
  outcome.metrics["bytes"] = static_cast<double>(params.bytes);
  outcome.artifacts.push_back({"output", "application/octet-stream", SyntheticBytes(params)});
  return outcome;
}

}  // namespace farm::agent
