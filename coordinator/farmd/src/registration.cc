// Agents joining and staying alive: Register -> Welcome, heartbeats both ways, progress.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "conversions.h"
#include "coordinator_impl.h"

namespace farm::farmd {
namespace v1 = studiofarm::v1;

void CoordinatorImpl::HandleRegister(const std::string& peer, const v1::Register& reg) {
  if (reg.protocol_version() != kProtocolVersion) {
    SendError(peer, v1::ERROR_CODE_PROTOCOL_MISMATCH,
              "farmd speaks protocol " + std::to_string(kProtocolVersion) + ", agent sent " +
                  std::to_string(reg.protocol_version()));
    return;
  }
  // The routing id is what offers are sent to, so it is the agent's identity.
  if (!reg.agent_id().empty() && reg.agent_id() != peer) {
    SendError(peer, v1::ERROR_CODE_MALFORMED,
              "agent_id '" + reg.agent_id() + "' differs from the connection's id '" + peer + "'");
    return;
  }
  const v1::Capabilities& caps = reg.capabilities();
  scheduler::AgentSpec spec;
  spec.id = peer;
  spec.device = caps.device_kind() == v1::DEVICE_KIND_CUDA ? scheduler::DeviceKind::kCuda
                                                           : scheduler::DeviceKind::kCpu;
  spec.device_memory_bytes = caps.device_memory_bytes();
  // The scheduler's slots are leases the agent takes at once: its slots plus the leases it
  // queues (Capabilities.prefetch).
  const std::uint32_t run_slots = std::clamp<std::uint32_t>(caps.slots(), 1, 1024);
  spec.slots = static_cast<int>(run_slots + std::min<std::uint32_t>(caps.prefetch(), 1024));
  spec.cached_models.assign(caps.cached_model_sha256().begin(), caps.cached_model_sha256().end());
  for (int kind : caps.job_kinds()) {
    scheduler::JobKind parsed;
    if (FromWire(static_cast<v1::JobKind>(kind), &parsed)) spec.job_kinds.push_back(parsed);
  }
  if (Status status = scheduler::ValidateAgentSpec(spec); !status.ok()) {
    SendError(peer, v1::ERROR_CODE_MALFORMED, status.message());
    return;
  }
  // The agents row must exist before an attempt can name the agent (foreign key).
  store::AgentRecord record;
  record.id = peer;
  record.hostname = reg.hostname();
  record.device_kind = scheduler::Name(spec.device);
  record.memory_bytes =
      static_cast<std::int64_t>(std::min<std::uint64_t>(caps.device_memory_bytes(), INT64_MAX));
  record.cores = static_cast<int>(std::min<std::uint32_t>(caps.cpu_cores(), 1u << 20));
  record.version = reg.agent_version();
  record.state = store::AgentState::kOnline;
  if (Status status = store_.UpsertAgent(record); !status.ok()) {
    StoreError(status, "register agent " + peer);
    SendError(peer, v1::ERROR_CODE_UNSPECIFIED, "farmd could not record the agent; retry");
    return;
  }
  written_agent_states_[peer] = scheduler::AgentState::kOnline;
  // Batched offers and acks only for an agent that says it takes them.
  if (reg.batches()) {
    batch_peers_.insert(peer);
  } else {
    batch_peers_.erase(peer);
  }
  agent_hostnames_[peer] = reg.hostname();
  // An agent that lists what it holds may only have lost its connection: the scheduler
  // reconciles the list against the fencing tokens (scheduler.h, RegisterAgent).
  std::vector<scheduler::LeaseRef> held;
  if (reg.has_held_leases()) held = LeaseRefsFromWire(reg.held_leases().leases());
  Status registered = reg.has_held_leases() ? scheduler_->RegisterAgent(spec, held)
                                            : scheduler_->RegisterAgent(spec);
  if (!registered.ok()) {
    SendError(peer, v1::ERROR_CODE_MALFORMED, registered.message());
    return;
  }
  if (reg.has_held_leases()) {
    // A fresh registration holds nothing else: its busy slots are the leases it kept.
    if (auto info = scheduler_->GetAgent(peer); info.ok()) {
      counters_.leases_kept_on_register += static_cast<std::uint64_t>(info->busy_slots);
    }
  }
  ApplyDrainRequest(peer);
  spdlog::info("agent={} registered ({} slots, {}{})", peer, spec.slots,
               scheduler::Name(spec.device),
               reg.has_held_leases() ? ", reports " + std::to_string(held.size()) + " held leases"
                                     : std::string());
  v1::Envelope welcome;
  welcome.mutable_welcome()->set_session_id(session_id_);
  welcome.mutable_welcome()->set_heartbeat_interval_ms(
      static_cast<std::uint32_t>(options_.scheduler.heartbeat_interval_ms));
  welcome.mutable_welcome()->set_heartbeat_liveness(
      static_cast<std::uint32_t>(options_.scheduler.heartbeat_liveness));
  welcome.mutable_welcome()->set_batches(true);
  if (!Send(peer, std::move(welcome)).ok()) {
    (void)scheduler_->DeregisterAgent(peer, "unreachable after registration");
  }
}

void CoordinatorImpl::HandleHeartbeat(const std::string& peer, const v1::Heartbeat& beat) {
  const std::vector<scheduler::LeaseRef> active = LeaseRefsFromWire(beat.active_leases());
  // Lost offers. An agent that sets received_sequence lists every lease it holds, as of
  // having handled farmd's messages up to that sequence. Messages to one agent travel in
  // order, so an offer numbered at or below it reached the agent before the heartbeat was
  // built, unless it was lost: if the lease is not listed, the scheduler requeues it now
  // instead of waiting for the lease timeout. An offer numbered above it may still be on
  // its way (sent after the heartbeat was built): it is judged by a later heartbeat. A
  // sequence above any farmd sent comes from an earlier farmd process and says nothing.
  const std::uint64_t received = beat.received_sequence();
  Status status;
  if (received > 0 && received <= sequence_) {
    std::vector<scheduler::LeaseRef> in_flight;
    if (auto agent = scheduler_->GetAgent(peer); agent.ok()) {
      for (const scheduler::LeaseRef& lease : agent->leases) {
        auto sent = offers_sent_.find(lease.job);
        if (sent == offers_sent_.end() || sent->second.attempt != lease.attempt) continue;
        auto seq = sent->second.sequence_by_agent.find(peer);
        if (seq != sent->second.sequence_by_agent.end() && seq->second > received) {
          in_flight.push_back(lease);
        }
      }
    }
    status = scheduler_->Heartbeat(peer, active, in_flight);
  } else {
    status = scheduler_->Heartbeat(peer, active);
  }
  if (!status.ok()) {
    SendError(peer, v1::ERROR_CODE_NOT_REGISTERED, "register again: " + status.message());
  }
}

void CoordinatorImpl::HandleProgress(const std::string& peer, const v1::Progress& progress) {
  if (progress.lease().job_id() > static_cast<std::uint64_t>(INT64_MAX) ||
      progress.lease().attempt() > INT32_MAX) {
    SendError(peer, v1::ERROR_CODE_UNKNOWN_LEASE, "lease out of range");
    return;
  }
  const scheduler::LeaseRef lease{static_cast<scheduler::JobId>(progress.lease().job_id()),
                                  static_cast<int>(progress.lease().attempt())};
  auto held = scheduler_->ReportProgress(peer, lease);
  if (!held.ok()) {
    const bool unknown_agent =
        held.status().code() == StatusCode::kNotFound && !scheduler_->GetAgent(peer).ok();
    SendError(peer, unknown_agent ? v1::ERROR_CODE_NOT_REGISTERED : v1::ERROR_CODE_UNKNOWN_LEASE,
              held.status().message());
  }
  // held == false: the scheduler issued a CancelRequest, sent with the decisions.
  if (held.ok() && *held) {
    last_progress_[lease.job] = {lease.job, progress.stage(), progress.step(),
                                 progress.total_steps(), progress.message()};
  }
}

void CoordinatorImpl::SendHeartbeats() {
  v1::Envelope beat;
  beat.mutable_heartbeat()->set_sent_unix_ms(static_cast<std::uint64_t>(clock_.NowMs()));
  for (const scheduler::AgentInfo& agent : scheduler_->Agents()) {
    if (agent.state != scheduler::AgentState::kOnline &&
        agent.state != scheduler::AgentState::kDraining) {
      continue;
    }
    if (!Send(agent.id, beat).ok()) {
      // Gone from the link: requeue its work now rather than after the liveness window.
      (void)scheduler_->DeregisterAgent(agent.id, "unreachable");
    }
  }
  ProcessDecisions();
}

void CoordinatorImpl::SyncAgentStates() {
  std::vector<std::pair<std::string, scheduler::AgentState>> changed;
  for (const scheduler::AgentInfo& agent : scheduler_->Agents()) {
    auto it = written_agent_states_.find(agent.id);
    if (it != written_agent_states_.end() && ToStore(it->second) == ToStore(agent.state)) continue;
    changed.emplace_back(agent.id, agent.state);
  }
  if (changed.empty()) return;
  auto txn = store_.BeginWrite();
  if (!txn.ok()) return StoreError(txn.status(), "agent states");
  for (const auto& [id, state] : changed) {
    Status status = store_.SetAgentState(id, ToStore(state));
    if (!status.ok() && status.code() != StatusCode::kNotFound) StoreError(status, "agent " + id);
  }
  if (Status status = txn->Commit(); !status.ok()) return Halt(status, "commit agent states");
  for (const auto& [id, state] : changed) written_agent_states_[id] = state;
}

}  // namespace farm::farmd
