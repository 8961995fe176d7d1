// Names of the enumerations as stored in the database (and CHECKed by 0001_initial.sql).
#include "farm/store/records.h"

#include <array>
#include <string>
#include <utility>

namespace farm::store {
namespace {

template <typename Enum, std::size_t N>
using NameTable = std::array<std::pair<Enum, const char*>, N>;

constexpr NameTable<SweepState, 6> kSweepStates = {{{SweepState::kQueued, "queued"},
                                                    {SweepState::kRunning, "running"},
                                                    {SweepState::kPaused, "paused"},
                                                    {SweepState::kSucceeded, "succeeded"},
                                                    {SweepState::kFailed, "failed"},
                                                    {SweepState::kCancelled, "cancelled"}}};
constexpr NameTable<JobKind, 6> kJobKinds = {{{JobKind::kPrepare, "prepare"},
                                              {JobKind::kTrain, "train"},
                                              {JobKind::kValidate, "validate"},
                                              {JobKind::kRender, "render"},
                                              {JobKind::kScore, "score"},
                                              {JobKind::kSynthetic, "synthetic"}}};
constexpr NameTable<JobState, 6> kJobStates = {{{JobState::kQueued, "queued"},
                                                {JobState::kLeased, "leased"},
                                                {JobState::kSucceeded, "succeeded"},
                                                {JobState::kFailed, "failed"},
                                                {JobState::kCancelled, "cancelled"},
                                                {JobState::kSkipped, "skipped"}}};
constexpr NameTable<AttemptOutcome, 4> kOutcomes = {{{AttemptOutcome::kSucceeded, "succeeded"},
                                                     {AttemptOutcome::kFailed, "failed"},
                                                     {AttemptOutcome::kExpired, "expired"},
                                                     {AttemptOutcome::kCancelled, "cancelled"}}};
constexpr NameTable<AgentState, 4> kAgentStates = {{{AgentState::kOnline, "online"},
                                                    {AgentState::kDraining, "draining"},
                                                    {AgentState::kOffline, "offline"},
                                                    {AgentState::kLost, "lost"}}};

template <typename Enum, std::size_t N>
const char* NameIn(const NameTable<Enum, N>& table, Enum value) {
  for (const auto& [candidate, name] : table) {
    if (candidate == value) return name;
  }
  return "?";  // unreachable for valid enumerators
}

template <typename Enum, std::size_t N>
StatusOr<Enum> ParseIn(const NameTable<Enum, N>& table, std::string_view what,
                       std::string_view name) {
  std::string known;
  for (const auto& [value, candidate] : table) {
    if (name == candidate) return value;
    known += known.empty() ? "" : ", ";
    known += candidate;
  }
  return InvalidArgument("unknown " + std::string(what) + " '" + std::string(name) +
                         "' (expected one of: " + known + ")");
}

}  // namespace

const char* Name(SweepState value) { return NameIn(kSweepStates, value); }
const char* Name(JobKind value) { return NameIn(kJobKinds, value); }
const char* Name(JobState value) { return NameIn(kJobStates, value); }
const char* Name(AttemptOutcome value) { return NameIn(kOutcomes, value); }
const char* Name(AgentState value) { return NameIn(kAgentStates, value); }

StatusOr<SweepState> ParseSweepState(std::string_view name) {
  return ParseIn(kSweepStates, "sweep state", name);
}
StatusOr<JobKind> ParseJobKind(std::string_view name) {
  return ParseIn(kJobKinds, "job kind", name);
}
StatusOr<JobState> ParseJobState(std::string_view name) {
  return ParseIn(kJobStates, "job state", name);
}
StatusOr<AttemptOutcome> ParseAttemptOutcome(std::string_view name) {
  return ParseIn(kOutcomes, "attempt outcome", name);
}
StatusOr<AgentState> ParseAgentState(std::string_view name) {
  return ParseIn(kAgentStates, "agent state", name);
}

}  // namespace farm::store
