// Prometheus text exposition (format 0.0.4) of the loop, the scheduler and the link.
#include <sstream>

#include "coordinator_impl.h"

namespace farm::farmd {
namespace {

std::string LabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Metric(std::ostringstream& out, const char* name, const char* type, const char* help,
            double value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << value << '\n';
}

}  // namespace

std::string CoordinatorImpl::MetricsText() const {
  std::ostringstream out;
  out.precision(15);
  Metric(out, "farm_queue_depth", "gauge", "Runnable jobs waiting for a slot.",
         static_cast<double>(scheduler_->QueueDepth()));
  Metric(out, "farm_active_leases", "gauge", "Open leases.",
         static_cast<double>(scheduler_->ActiveLeases()));
  const scheduler::StateCounts counts = scheduler_->CountsByState();
  out << "# HELP farm_jobs Jobs known to the scheduler by state.\n# TYPE farm_jobs gauge\n";
  for (int s = 0; s < scheduler::kJobStateCount; ++s) {
    const auto state = static_cast<scheduler::JobState>(s);
    out << "farm_jobs{state=\"" << scheduler::Name(state) << "\"} " << counts[state] << '\n';
  }
  Metric(out, "farm_jobs_completed_total", "counter", "Jobs that succeeded since start.",
         static_cast<double>(counters_.jobs_succeeded));
  Metric(out, "farm_jobs_failed_total", "counter", "Jobs that failed since start.",
         static_cast<double>(counters_.jobs_failed));
  Metric(out, "farm_results_accepted_total", "counter", "Results accepted from lease holders.",
         static_cast<double>(counters_.results_accepted));
  Metric(out, "farm_results_ignored_total", "counter", "Stale or duplicate results acknowledged.",
         static_cast<double>(counters_.results_ignored));
  Metric(out, "farm_leases_kept_on_reconnect_total", "counter",
         "Leases an agent reported holding when it registered again, kept running.",
         static_cast<double>(counters_.leases_kept_on_register));
  out << "# HELP farm_attempts_uncounted_total Attempts not held against max_attempts.\n"
         "# TYPE farm_attempts_uncounted_total counter\n"
      << "farm_attempts_uncounted_total{reason=\"busy\"} " << counters_.busy_refusals << '\n'
      << "farm_attempts_uncounted_total{reason=\"offer_lost\"} " << counters_.offers_lost
      << '\n';
  Metric(out, "farm_artifacts_stored_total", "counter", "Verified artifacts stored.",
         static_cast<double>(counters_.artifacts_stored));
  Metric(out, "farm_artifacts_rejected_total", "counter",
         "Artifact chunks or uploads rejected (bounds, size or SHA-256 mismatch).",
         static_cast<double>(counters_.artifacts_rejected));
  Metric(out, "farm_artifact_uploads_open", "gauge", "Uploads in progress.",
         static_cast<double>(uploads_.open_uploads()));
  Metric(out, "farm_artifact_reads_total", "counter",
         "Artifact reads answered to agents (data or error).",
         static_cast<double>(counters_.artifact_reads));
  Metric(out, "farm_artifact_read_bytes_total", "counter", "Artifact bytes sent to agents.",
         static_cast<double>(reads_.bytes_served()));
  Metric(out, "farm_artifact_reads_queued", "gauge", "Artifact reads waiting to be served.",
         static_cast<double>(reads_.queued()));
  Metric(out, "farm_agent_messages_total", "counter", "Messages received from agents.",
         static_cast<double>(counters_.messages));
  Metric(out, "farm_agent_bad_messages_total", "counter", "Messages answered with an Error.",
         static_cast<double>(counters_.bad_messages));
  Metric(out, "farm_send_failures_total", "counter", "Sends the link refused.",
         static_cast<double>(counters_.send_failures));
  Metric(out, "farm_store_errors_total", "counter", "Failed database writes.",
         static_cast<double>(counters_.store_errors));
  const store::WalCheckpointStats wal = store_.wal_checkpoints();
  out << "# HELP farm_store_wal_checkpoints_total Checkpoints of the database's write-ahead log.\n"
         "# TYPE farm_store_wal_checkpoints_total counter\n"
      << "farm_store_wal_checkpoints_total{by=\"thread\"} " << wal.background_runs << '\n'
      << "farm_store_wal_checkpoints_total{by=\"writer\"} " << wal.inline_runs << '\n';
  Metric(out, "farm_store_wal_checkpoint_failures_total", "counter",
         "Checkpoints that failed (the log grows until one succeeds).",
         static_cast<double>(wal.failures));

  const auto agents = scheduler_->Agents();
  out << "# HELP farm_agent_busy_seconds_total Slot-seconds the agent's slots held leases.\n"
         "# TYPE farm_agent_busy_seconds_total counter\n";
  for (const auto& agent : agents) {
    auto busy = scheduler_->AgentBusyMs(agent.id);
    out << "farm_agent_busy_seconds_total{agent=\"" << LabelValue(agent.id) << "\"} "
        << (busy.ok() ? static_cast<double>(*busy) / 1000.0 : 0.0) << '\n';
  }
  out << "# HELP farm_agent_slots Slots of each agent by use.\n# TYPE farm_agent_slots gauge\n";
  for (const auto& agent : agents) {
    out << "farm_agent_slots{agent=\"" << LabelValue(agent.id) << "\",state=\""
        << scheduler::Name(agent.state) << "\",use=\"busy\"} " << agent.busy_slots << '\n'
        << "farm_agent_slots{agent=\"" << LabelValue(agent.id) << "\",state=\""
        << scheduler::Name(agent.state) << "\",use=\"total\"} " << agent.slots << '\n';
  }
  const transport::LinkStats link = link_.stats();
  out << "# HELP farm_link_messages_total Agent link traffic by kind.\n"
         "# TYPE farm_link_messages_total counter\n"
      << "farm_link_messages_total{kind=\"received\"} " << link.received << '\n'
      << "farm_link_messages_total{kind=\"sent\"} " << link.sent << '\n'
      << "farm_link_messages_total{kind=\"dropped_malformed\"} " << link.dropped_malformed << '\n'
      << "farm_link_messages_total{kind=\"send_unroutable\"} " << link.send_unroutable << '\n'
      << "farm_link_messages_total{kind=\"send_full\"} " << link.send_full << '\n'
      << "farm_link_messages_total{kind=\"auth_refused\"} " << link.auth_refused << '\n';
  return out.str();
}

}  // namespace farm::farmd
