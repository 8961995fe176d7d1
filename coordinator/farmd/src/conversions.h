// Mappings between the scheduler's, the store's and the wire's enumerations.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "farm.pb.h"
#include "farm/scheduler/types.h"
#include "farm/store/records.h"

namespace farm::farmd {

scheduler::JobKind ToScheduler(store::JobKind kind);
store::JobState ToStore(scheduler::JobState state);  // blocked is stored as queued
scheduler::JobState ToScheduler(store::JobState state);
// The store has no released/agent_lost outcome: both are written as expired.
store::AttemptOutcome ToStore(scheduler::AttemptOutcome outcome);
scheduler::AttemptOutcome ToScheduler(store::AttemptOutcome outcome);
store::AgentState ToStore(scheduler::AgentState state);
studiofarm::v1::JobKind ToWire(scheduler::JobKind kind);
// false for JOB_KIND_UNSPECIFIED or an unknown value.
bool FromWire(studiofarm::v1::JobKind kind, scheduler::JobKind* out);

// Wire lease refs as the scheduler's; refs out of the scheduler's range (job id above
// INT64_MAX, attempt above INT32_MAX) cannot be farmd's and are left out.
std::vector<scheduler::LeaseRef> LeaseRefsFromWire(
    const google::protobuf::RepeatedPtrField<studiofarm::v1::LeaseRef>& refs);

// The payload an agent gets for `job`. A synthetic stand-in's stored record says what it
// stands in for; the agent gets the synthetic workload's own params, seeded by the job id.
std::string OfferParams(const store::Job& job);

// A job filter by sweep and/or state (unset: any), at most `limit` rows (0: all).
store::JobFilter JobsWhere(std::optional<std::int64_t> sweep_id,
                           std::optional<store::JobState> state, std::int64_t limit = 0);

}  // namespace farm::farmd
