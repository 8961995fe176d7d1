#include "farm/scheduler/types.h"

namespace farm::scheduler {

bool IsTerminal(JobState state) {
  switch (state) {
    case JobState::kSucceeded:
    case JobState::kFailed:
    case JobState::kCancelled:
    case JobState::kSkipped:
      return true;
    case JobState::kBlocked:
    case JobState::kQueued:
    case JobState::kLeased:
      return false;
  }
  return false;
}

const char* Name(DeviceKind value) {
  switch (value) {
    case DeviceKind::kCpu:
      return "cpu";
    case DeviceKind::kCuda:
      return "cuda";
  }
  return "unknown";
}

const char* Name(JobKind value) {
  switch (value) {
    case JobKind::kPrepare:
      return "prepare";
    case JobKind::kTrain:
      return "train";
    case JobKind::kValidate:
      return "validate";
    case JobKind::kRender:
      return "render";
    case JobKind::kScore:
      return "score";
    case JobKind::kSynthetic:
      return "synthetic";
  }
  return "unknown";
}

const char* Name(JobState value) {
  switch (value) {
    case JobState::kBlocked:
      return "blocked";
    case JobState::kQueued:
      return "queued";
    case JobState::kLeased:
      return "leased";
    case JobState::kSucceeded:
      return "succeeded";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
    case JobState::kSkipped:
      return "skipped";
  }
  return "unknown";
}

const char* Name(AttemptOutcome value) {
  switch (value) {
    case AttemptOutcome::kSucceeded:
      return "succeeded";
    case AttemptOutcome::kFailed:
      return "failed";
    case AttemptOutcome::kReleased:
      return "released";
    case AttemptOutcome::kCancelled:
      return "cancelled";
    case AttemptOutcome::kExpired:
      return "expired";
    case AttemptOutcome::kAgentLost:
      return "agent_lost";
  }
  return "unknown";
}

const char* Name(AgentState value) {
  switch (value) {
    case AgentState::kOnline:
      return "online";
    case AgentState::kDraining:
      return "draining";
    case AgentState::kAwaitingReconnect:
      return "awaiting_reconnect";
    case AgentState::kOffline:
      return "offline";
    case AgentState::kLost:
      return "lost";
  }
  return "unknown";
}

std::size_t StateCounts::operator[](JobState state) const {
  return by_state[static_cast<std::size_t>(state)];
}

std::size_t StateCounts::total() const {
  std::size_t sum = 0;
  for (std::size_t n : by_state) sum += n;
  return sum;
}

}  // namespace farm::scheduler
