// Store methods for agents (farm workers), keyed by their agent id.
#include <string>

#include "farm/store/store.h"
#include "store_impl.h"

namespace farm::store {
namespace {

constexpr char kAgentColumns[] =
    "SELECT id, hostname, device_kind, memory_bytes, cores, version, state, first_seen_at, "
    "last_seen_at, drain_requested FROM agents";

AgentRecord ReadAgent(SQLite::Statement& row) {
  AgentRecord agent;
  agent.id = row.getColumn(0).getString();
  agent.hostname = row.getColumn(1).getString();
  agent.device_kind = row.getColumn(2).getString();
  agent.memory_bytes = row.getColumn(3).getInt64();
  agent.cores = row.getColumn(4).getInt();
  agent.version = row.getColumn(5).getString();
  agent.state = ValueOrCorrupt(ParseAgentState(row.getColumn(6).getText()), "agent " + agent.id);
  agent.first_seen_at_ms = row.getColumn(7).getInt64();
  agent.last_seen_at_ms = row.getColumn(8).getInt64();
  agent.drain_requested = row.getColumn(9).getInt() != 0;
  return agent;
}

}  // namespace

Status Store::UpsertAgent(const AgentRecord& agent) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("upsert agent"));
  return Guarded(*impl_, "upsert agent '" + agent.id + "'", [&]() -> Status {
    const std::int64_t now = impl_->NowMs();
    auto upsert = impl_->Prepare(
        "INSERT INTO agents (id, hostname, device_kind, memory_bytes, cores, version, state, "
        "first_seen_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) "
        "ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, "
        "device_kind = excluded.device_kind, memory_bytes = excluded.memory_bytes, "
        "cores = excluded.cores, version = excluded.version, state = excluded.state, "
        "last_seen_at = MAX(agents.last_seen_at, excluded.last_seen_at)");
    upsert->bind(1, agent.id);
    upsert->bind(2, agent.hostname);
    upsert->bind(3, agent.device_kind);
    upsert->bind(4, static_cast<int64_t>(agent.memory_bytes));
    upsert->bind(5, agent.cores);
    upsert->bind(6, agent.version);
    upsert->bind(7, Name(agent.state));
    upsert->bind(8, static_cast<int64_t>(now));
    upsert->exec();
    return Status::Ok();
  });
}

Status Store::SetAgentState(const std::string& agent_id, AgentState state) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set agent state"));
  return Guarded(*impl_, "set agent state", [&]() -> Status {
    auto update = impl_->Prepare("UPDATE agents SET state = ? WHERE id = ?");
    update->bind(1, Name(state));
    update->bind(2, agent_id);
    if (update->exec() == 0) return impl_->NotFoundError("agent '" + agent_id + "'");
    return Status::Ok();
  });
}

Status Store::SetAgentDrainRequested(const std::string& agent_id, bool requested) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set agent drain request"));
  return Guarded(*impl_, "set agent drain request", [&]() -> Status {
    auto update = impl_->Prepare("UPDATE agents SET drain_requested = ? WHERE id = ?");
    update->bind(1, requested ? 1 : 0);
    update->bind(2, agent_id);
    if (update->exec() == 0) return impl_->NotFoundError("agent '" + agent_id + "'");
    return Status::Ok();
  });
}

StatusOr<AgentRecord> Store::GetAgent(const std::string& agent_id) {
  return Guarded(*impl_, "get agent", [&]() -> StatusOr<AgentRecord> {
    auto row = impl_->Prepare(std::string(kAgentColumns) + " WHERE id = ?");
    row->bind(1, agent_id);
    if (!row->executeStep()) return impl_->NotFoundError("agent '" + agent_id + "'");
    return ReadAgent(*row);
  });
}

StatusOr<std::vector<AgentRecord>> Store::ListAgents() {
  return Guarded(*impl_, "list agents", [&]() -> StatusOr<std::vector<AgentRecord>> {
    auto rows = impl_->Prepare(std::string(kAgentColumns) + " ORDER BY id");
    std::vector<AgentRecord> agents;
    while (rows->executeStep()) agents.push_back(ReadAgent(*rows));
    return agents;
  });
}

}  // namespace farm::store
