// Operator drain requests: a drained agent keeps and finishes its leases and gets no new
// work. The request is stored with the agent (agents.drain_requested) and applied each
// time the agent registers, so it outlives reconnects, agent restarts and farmd restarts
// until the operator resumes the agent.
#include <spdlog/spdlog.h>

#include "coordinator_impl.h"

namespace farm::farmd {

Status Coordinator::SetAgentDraining(const std::string& agent_id, bool draining) {
  return impl_->SetAgentDraining(agent_id, draining);
}

Status CoordinatorImpl::SetAgentDraining(const std::string& agent_id, bool draining) {
  Status stored = store_.SetAgentDrainRequested(agent_id, draining);
  if (!stored.ok()) {
    if (stored.code() != StatusCode::kNotFound) StoreError(stored, "drain request of " + agent_id);
    return stored;
  }
  if (draining) {
    drain_requested_.insert(agent_id);
  } else {
    drain_requested_.erase(agent_id);
  }
  spdlog::info("agent={} {}", agent_id,
               draining ? "drain requested: keeps its leases, gets no new work"
                        : "resumed: gets new work");
  ApplyDrainRequest(agent_id);
  SyncAgentStates();
  return Status::Ok();
}

void CoordinatorImpl::ApplyDrainRequest(const std::string& agent_id) {
  auto info = scheduler_->GetAgent(agent_id);
  if (!info.ok()) return;  // not connected: applied when it registers
  const bool draining = info->state == scheduler::AgentState::kDraining;
  if (!draining && info->state != scheduler::AgentState::kOnline) return;
  const bool wanted = drain_requested_.count(agent_id) > 0;
  if (draining == wanted) return;
  Status status = scheduler_->SetDraining(agent_id, wanted);
  if (!status.ok()) spdlog::warn("agent={}: drain request not applied: {}", agent_id, status.message());
}

}  // namespace farm::farmd
