#include "conversions.h"

#include <nlohmann/json.hpp>

namespace farm::farmd {

scheduler::JobKind ToScheduler(store::JobKind kind) {
  switch (kind) {
    case store::JobKind::kPrepare:
      return scheduler::JobKind::kPrepare;
    case store::JobKind::kTrain:
      return scheduler::JobKind::kTrain;
    case store::JobKind::kValidate:
      return scheduler::JobKind::kValidate;
    case store::JobKind::kRender:
      return scheduler::JobKind::kRender;
    case store::JobKind::kScore:
      return scheduler::JobKind::kScore;
    case store::JobKind::kSynthetic:
      return scheduler::JobKind::kSynthetic;
  }
  return scheduler::JobKind::kSynthetic;
}

store::JobState ToStore(scheduler::JobState state) {
  switch (state) {
    case scheduler::JobState::kBlocked:
    case scheduler::JobState::kQueued:
      return store::JobState::kQueued;
    case scheduler::JobState::kLeased:
      return store::JobState::kLeased;
    case scheduler::JobState::kSucceeded:
      return store::JobState::kSucceeded;
    case scheduler::JobState::kFailed:
      return store::JobState::kFailed;
    case scheduler::JobState::kCancelled:
      return store::JobState::kCancelled;
    case scheduler::JobState::kSkipped:
      return store::JobState::kSkipped;
  }
  return store::JobState::kQueued;
}

scheduler::JobState ToScheduler(store::JobState state) {
  switch (state) {
    case store::JobState::kQueued:
      return scheduler::JobState::kQueued;
    case store::JobState::kLeased:
      return scheduler::JobState::kLeased;
    case store::JobState::kSucceeded:
      return scheduler::JobState::kSucceeded;
    case store::JobState::kFailed:
      return scheduler::JobState::kFailed;
    case store::JobState::kCancelled:
      return scheduler::JobState::kCancelled;
    case store::JobState::kSkipped:
      return scheduler::JobState::kSkipped;
  }
  return scheduler::JobState::kQueued;
}

store::AttemptOutcome ToStore(scheduler::AttemptOutcome outcome) {
  switch (outcome) {
    case scheduler::AttemptOutcome::kSucceeded:
      return store::AttemptOutcome::kSucceeded;
    case scheduler::AttemptOutcome::kFailed:
      return store::AttemptOutcome::kFailed;
    case scheduler::AttemptOutcome::kCancelled:
      return store::AttemptOutcome::kCancelled;
    case scheduler::AttemptOutcome::kReleased:
    case scheduler::AttemptOutcome::kExpired:
    case scheduler::AttemptOutcome::kAgentLost:
      return store::AttemptOutcome::kExpired;
  }
  return store::AttemptOutcome::kExpired;
}

scheduler::AttemptOutcome ToScheduler(store::AttemptOutcome outcome) {
  switch (outcome) {
    case store::AttemptOutcome::kSucceeded:
      return scheduler::AttemptOutcome::kSucceeded;
    case store::AttemptOutcome::kFailed:
      return scheduler::AttemptOutcome::kFailed;
    case store::AttemptOutcome::kCancelled:
      return scheduler::AttemptOutcome::kCancelled;
    case store::AttemptOutcome::kExpired:
      return scheduler::AttemptOutcome::kExpired;
  }
  return scheduler::AttemptOutcome::kExpired;
}

store::AgentState ToStore(scheduler::AgentState state) {
  switch (state) {
    case scheduler::AgentState::kOnline:
      return store::AgentState::kOnline;
    case scheduler::AgentState::kDraining:
      return store::AgentState::kDraining;
    case scheduler::AgentState::kAwaitingReconnect:
    case scheduler::AgentState::kOffline:
      return store::AgentState::kOffline;
    case scheduler::AgentState::kLost:
      return store::AgentState::kLost;
  }
  return store::AgentState::kOffline;
}

studiofarm::v1::JobKind ToWire(scheduler::JobKind kind) {
  switch (kind) {
    case scheduler::JobKind::kPrepare:
      return studiofarm::v1::JOB_KIND_PREPARE;
    case scheduler::JobKind::kTrain:
      return studiofarm::v1::JOB_KIND_TRAIN;
    case scheduler::JobKind::kValidate:
      return studiofarm::v1::JOB_KIND_VALIDATE;
    case scheduler::JobKind::kRender:
      return studiofarm::v1::JOB_KIND_RENDER;
    case scheduler::JobKind::kScore:
      return studiofarm::v1::JOB_KIND_SCORE;
    case scheduler::JobKind::kSynthetic:
      return studiofarm::v1::JOB_KIND_SYNTHETIC;
  }
  return studiofarm::v1::JOB_KIND_UNSPECIFIED;
}

bool FromWire(studiofarm::v1::JobKind kind, scheduler::JobKind* out) {
  switch (kind) {
    case studiofarm::v1::JOB_KIND_PREPARE:
      *out = scheduler::JobKind::kPrepare;
      return true;
    case studiofarm::v1::JOB_KIND_TRAIN:
      *out = scheduler::JobKind::kTrain;
      return true;
    case studiofarm::v1::JOB_KIND_VALIDATE:
      *out = scheduler::JobKind::kValidate;
      return true;
    case studiofarm::v1::JOB_KIND_RENDER:
      *out = scheduler::JobKind::kRender;
      return true;
    case studiofarm::v1::JOB_KIND_SCORE:
      *out = scheduler::JobKind::kScore;
      return true;
    case studiofarm::v1::JOB_KIND_SYNTHETIC:
      *out = scheduler::JobKind::kSynthetic;
      return true;
    default:
      return false;
  }
}

std::string OfferParams(const store::Job& job) {
  if (job.kind != store::JobKind::kSynthetic) return job.params_json;
  nlohmann::json params = nlohmann::json::parse(job.params_json, nullptr, false);
  if (!params.is_object() || !params.contains("stand_in_for")) return job.params_json;
  params.erase("stand_in_for");
  params["seed"] = job.id;
  params["fail"] = false;
  return params.dump();
}

store::JobFilter JobsWhere(std::optional<std::int64_t> sweep_id,
                           std::optional<store::JobState> state, std::int64_t limit) {
  store::JobFilter filter;
  filter.sweep_id = sweep_id;
  filter.state = state;
  filter.limit = limit;
  return filter;
}

std::vector<scheduler::LeaseRef> LeaseRefsFromWire(
    const google::protobuf::RepeatedPtrField<studiofarm::v1::LeaseRef>& refs) {
  std::vector<scheduler::LeaseRef> out;
  out.reserve(refs.size());
  for (const studiofarm::v1::LeaseRef& ref : refs) {
    if (ref.job_id() > static_cast<std::uint64_t>(INT64_MAX) || ref.attempt() > INT32_MAX) {
      continue;
    }
    out.push_back({static_cast<scheduler::JobId>(ref.job_id()), static_cast<int>(ref.attempt())});
  }
  return out;
}

}  // namespace farm::farmd
