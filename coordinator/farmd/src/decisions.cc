// Scheduler decisions: persisted in one transaction per batch, carried out after the
// commit, so that an offer never reaches an agent before its lease is on disk, nor an
// ack before its result. A batch the store cannot take halts farmd (fail-stop).
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <set>

#include "adaptive_search.h"
#include "conversions.h"
#include "coordinator_impl.h"

namespace farm::farmd {
namespace v1 = studiofarm::v1;
namespace {

// How often sweeps with running work are checked for completion: the check walks the
// sweep's finished jobs (SQLite's jobs_sweep index), milliseconds for a big sweep.
constexpr scheduler::TimeMs kSweepCheckIntervalMs = 1000;

// The payload an agent gets. A synthetic stand-in's stored record says what it stands in
// for; the agent gets the synthetic workload's own params, seeded by the job id.
std::string OfferParams(const store::Job& job) {
  if (job.kind != store::JobKind::kSynthetic) return job.params_json;
  nlohmann::json params = nlohmann::json::parse(job.params_json, nullptr, false);
  if (!params.is_object() || !params.contains("stand_in_for")) return job.params_json;
  params.erase("stand_in_for");
  params["seed"] = job.id;
  params["fail"] = false;
  return params.dump();
}

}  // namespace

void CoordinatorImpl::ProcessDecisions(const std::function<Status()>& extra) {
  if (halted()) return;  // fail-stop: nothing is written, offered or acknowledged any more
  std::vector<scheduler::Decision> decisions = scheduler_->TakeDecisions();
  const scheduler::TimeMs now = clock_.NowMs();
  auto sweep_check_due = [&] {
    if (sweeps_to_check_.empty()) return false;
    // Nothing left to run: every sweep that had a job finish may be done, say so now.
    if (scheduler_->QueueDepth() == 0 && scheduler_->ActiveLeases() == 0) return true;
    return now - last_sweep_check_ms_ >= kSweepCheckIntervalMs || now < last_sweep_check_ms_;
  };
  if (decisions.empty() && !extra && pending_results_.empty() && acks_after_commit_.empty() &&
      !sweep_check_due()) {
    return;
  }
  ++batches_;
  // Every write of the batch goes into one transaction, and nothing of it (offer, cancel,
  // ack) leaves farmd unless that transaction committed. A store that fails halts farmd
  // at once: after an I/O error SQLite may have rolled the transaction back already, so
  // no further write of the batch may run (it would commit on its own).
  auto txn = store_.BeginWrite();
  if (!txn.ok()) return Halt(txn.status(), "begin " + DescribeBatch(decisions));
  if (extra) {
    if (Status status = extra(); !status.ok()) StoreError(status, "result");
  }
  if (!halted()) StorePendingResults();
  std::vector<bool> carry(decisions.size(), false);
  for (std::size_t i = 0; i < decisions.size() && !halted(); ++i) {
    carry[i] = PersistDecision(decisions[i]);
    if (const auto* done = std::get_if<scheduler::JobFinished>(&decisions[i])) {
      auto job = scheduler_->GetJob(done->job);
      if (job.ok() && job->spec.sweep_id > 0) sweeps_to_check_.insert(job->spec.sweep_id);
    }
  }
  std::set<std::int64_t> finished_sweeps;
  if (!halted() && sweep_check_due()) {
    finished_sweeps.swap(sweeps_to_check_);
    last_sweep_check_ms_ = now;
  }
  // A sweep whose last job finished is finished too.
  for (std::int64_t sweep : finished_sweeps) {
    if (halted()) break;
    auto open = store_.ListJobs(JobsWhere(sweep, store::JobState::kQueued, 1));
    auto leased = store_.ListJobs(JobsWhere(sweep, store::JobState::kLeased, 1));
    if (!open.ok() || !leased.ok() || !open->empty() || !leased->empty()) continue;
    auto failed = store_.ListJobs(JobsWhere(sweep, store::JobState::kFailed, 1));
    auto current = store_.GetSweep(sweep);
    if (!failed.ok() || !current.ok() || current->state == store::SweepState::kCancelled)
      continue;
    // A search (spec's search:) goes on with its next rung, in this same transaction.
    if (IsSearchSpec(current->spec_yaml)) {
      auto step = AdvanceSearch(store_, *scheduler_, sweep);
      if (!step.ok()) {
        // The sweep stays running: a restart checks it again.
        StoreError(step.status(), "search of sweep " + std::to_string(sweep));
        continue;
      }
      if (step->added) continue;
    }
    // Not ignored: after an I/O error SQLite may have rolled the batch back, and a
    // further write would commit on its own.
    if (Status status = store_.SetSweepState(sweep, failed->empty() ? store::SweepState::kSucceeded
                                                                    : store::SweepState::kFailed);
        !status.ok()) {
      StoreError(status, "finish sweep " + std::to_string(sweep));
    }
  }
  if (halted()) {
    spdlog::critical("{} rolled back", DescribeBatch(decisions));
    return;  // the transaction rolls back; its offers, cancels and acks are never sent
  }
  if (Status status = txn->Commit(); !status.ok()) {
    return Halt(status, "commit " + DescribeBatch(decisions));
  }
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    if (carry[i]) CarryOut(decisions[i]);
  }
  AckPendingResults();
}

std::string CoordinatorImpl::DescribeBatch(
    const std::vector<scheduler::Decision>& decisions) const {
  constexpr std::size_t kListed = 20;  // jobs named in full; the rest are counted
  std::string text = "batch " + std::to_string(batches_) + " (" +
                     std::to_string(pending_results_.size()) + " results";
  std::size_t listed = 0;
  for (const PendingResult& r : pending_results_) {
    if (listed++ == kListed) {
      text += " ...";
      break;
    }
    text += std::string(listed == 1 ? ": " : ", ") + "job=" + std::to_string(r.lease.job) +
            " attempt=" + std::to_string(r.lease.attempt) + " agent=" + r.peer;
  }
  std::size_t dispatches = 0, ended = 0, finished = 0, other = 0;
  for (const scheduler::Decision& decision : decisions) {
    if (std::holds_alternative<scheduler::Dispatch>(decision)) {
      ++dispatches;
    } else if (std::holds_alternative<scheduler::AttemptEnded>(decision)) {
      ++ended;
    } else if (std::holds_alternative<scheduler::JobFinished>(decision)) {
      ++finished;
    } else {
      ++other;
    }
  }
  return text + "; " + std::to_string(dispatches) + " dispatches, " + std::to_string(ended) +
         " attempts ended, " + std::to_string(finished) + " jobs finished, " +
         std::to_string(other) + " other decisions)";
}

bool CoordinatorImpl::PersistDecision(const scheduler::Decision& decision) {
  if (const auto* d = std::get_if<scheduler::Dispatch>(&decision)) {
    auto job = store_.GetJob(d->job);
    if (!job.ok()) {
      StoreError(job.status(), "dispatch job " + std::to_string(d->job));
      return false;
    }
    offer_params_[d->job] = OfferParams(*job);
    // The attempts table has one agent column: a gang's lease is recorded under rank 0.
    auto attempt = store_.StartAttempt(d->job, d->placements.at(0).agent, d->deadline_ms);
    if (!attempt.ok()) {
      StoreError(attempt.status(), "start attempt of job " + std::to_string(d->job));
      return false;
    }
    if (attempt->attempt != d->attempt) {
      spdlog::error("job={} scheduler attempt {} but store attempt {}", d->job, d->attempt,
                    attempt->attempt);
    }
    // A sweep read as past queued never returns to it: one read per sweep, not per job.
    if (job->sweep_id > 0 && !started_sweeps_.count(job->sweep_id)) {
      auto sweep = store_.GetSweep(job->sweep_id);
      if (sweep.ok() && sweep->state == store::SweepState::kQueued) {
        if (Status status = store_.SetSweepState(job->sweep_id, store::SweepState::kRunning);
            !status.ok()) {
          StoreError(status, "start sweep " + std::to_string(job->sweep_id));
        }
      } else if (sweep.ok()) {
        started_sweeps_.insert(job->sweep_id);
      }
    }
    return true;
  }
  if (const auto* d = std::get_if<scheduler::AttemptEnded>(&decision)) {
    // The attempt ended; the job is terminal now or back in the queue (a re-dispatch in
    // this same batch comes later and starts from queued).
    auto job = scheduler_->GetJob(d->job);
    store::JobState next = store::JobState::kQueued;
    if (job.ok() && scheduler::IsTerminal(job->state)) next = ToStore(job->state);
    Status status = store_.FinishAttempt(d->job, d->attempt, ToStore(d->outcome), d->error, next);
    if (!status.ok()) StoreError(status, "finish attempt of job " + std::to_string(d->job));
    return true;
  }
  if (const auto* d = std::get_if<scheduler::Requeue>(&decision)) {
    Status status = store_.SetJobState(d->job, store::JobState::kQueued);
    if (!status.ok()) StoreError(status, "requeue job " + std::to_string(d->job));
    return true;
  }
  if (const auto* d = std::get_if<scheduler::JobFinished>(&decision)) {
    Status status = store_.SetJobState(d->job, ToStore(d->state));
    if (!status.ok()) StoreError(status, "finish job " + std::to_string(d->job));
    if (d->state == scheduler::JobState::kFailed && coordinator_failures_.erase(d->job) > 0) {
      // A job farmd ran itself has no attempt to carry the error: keep it on the job.
      if (Status e = store_.SetJobError(d->job, d->reason); !e.ok()) {
        StoreError(e, "record error of job " + std::to_string(d->job));
      }
    }
    if (d->state == scheduler::JobState::kSucceeded) ++counters_.jobs_succeeded;
    if (d->state == scheduler::JobState::kFailed) ++counters_.jobs_failed;
    offer_params_.erase(d->job);
    last_progress_.erase(d->job);
    offers_sent_.erase(d->job);
    return true;
  }
  return true;  // CancelRequest: nothing to write
}

void CoordinatorImpl::CarryOut(const scheduler::Decision& decision) {
  if (const auto* d = std::get_if<scheduler::Dispatch>(&decision)) {
    auto job = scheduler_->GetJob(d->job);
    if (!job.ok()) return;
    v1::Envelope envelope;
    v1::JobOffer* offer = envelope.mutable_job_offer();
    offer->mutable_lease()->set_job_id(static_cast<std::uint64_t>(d->job));
    offer->mutable_lease()->set_attempt(static_cast<std::uint32_t>(d->attempt));
    offer->set_lease_deadline_unix_ms(static_cast<std::uint64_t>(d->deadline_ms));
    offer->set_kind(ToWire(job->spec.kind));
    offer->set_param_hash(job->spec.param_hash);
    offer->set_params_json(offer_params_[d->job]);
    for (const auto& model : job->spec.required_models) offer->add_required_model_sha256(model);
    offer->set_gang_size(static_cast<std::uint32_t>(d->placements.size()));
    if (d->placements.size() > 1) {
      for (const scheduler::Placement& placement : d->placements) {
        auto host = agent_hostnames_.find(placement.agent);
        offer->add_gang_hosts(host == agent_hostnames_.end() ? "" : host->second);
      }
    }
    OfferSent& sent = offers_sent_[d->job];
    sent.attempt = d->attempt;
    sent.sequence_by_agent.clear();
    for (const scheduler::Placement& placement : d->placements) {
      offer->set_gang_rank(static_cast<std::uint32_t>(placement.rank));
      Status status = Send(placement.agent, envelope);
      sent.sequence_by_agent[placement.agent] = sequence_;  // Send numbered it
      if (!status.ok()) {
        spdlog::warn("agent={} job={} attempt={} offer not delivered: {}", placement.agent, d->job,
                     d->attempt, status.message());
        // The lease cannot run: the scheduler requeues it with the agent's other work.
        (void)scheduler_->DeregisterAgent(placement.agent, "unreachable: " + status.message());
      }
    }
    return;
  }
  if (const auto* d = std::get_if<scheduler::CancelRequest>(&decision)) {
    v1::Envelope envelope;
    envelope.mutable_cancel()->mutable_lease()->set_job_id(static_cast<std::uint64_t>(d->job));
    envelope.mutable_cancel()->mutable_lease()->set_attempt(static_cast<std::uint32_t>(d->attempt));
    envelope.mutable_cancel()->set_reason(d->reason);
    (void)Send(d->agent, std::move(envelope));  // a gone agent is declared lost by liveness
  }
}

}  // namespace farm::farmd
