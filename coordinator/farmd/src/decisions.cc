// Scheduler decisions: persisted in one transaction per batch, carried out after the
// commit, so that an offer never reaches an agent before its lease is on disk, nor an
// ack before its result. A batch the store cannot take halts farmd (fail-stop).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "adaptive_search.h"
#include "conversions.h"
#include "coordinator_impl.h"

namespace farm::farmd {
namespace v1 = studiofarm::v1;
namespace {

// How often sweeps with running work are checked for completion: the check walks the
// sweep's finished jobs (SQLite's jobs_sweep index), milliseconds for a big sweep.
constexpr scheduler::TimeMs kSweepCheckIntervalMs = 1000;

// The metrics of the batch's results by lease, sorted: an accepted result ended its lease,
// so its attempt's row in Store::FinishAttempts writes them, with no statement of their own.
class MetricsByLease {
 public:
  explicit MetricsByLease(std::vector<CoordinatorImpl::PendingResult>& results) {
    for (CoordinatorImpl::PendingResult& r : results) {
      if (r.metrics_json.empty()) continue;
      entries_.push_back({r.lease.job, r.lease.attempt, &r.metrics_json});
    }
    std::sort(entries_.begin(), entries_.end(), Before);
  }
  // Moves the metrics of (job, attempt) out of their result; empty when there are none.
  std::string Take(scheduler::JobId job, int attempt) {
    const Entry key{job, attempt, nullptr};
    auto it = std::lower_bound(entries_.begin(), entries_.end(), key, Before);
    if (it == entries_.end() || it->job != job || it->attempt != attempt) return {};
    std::string taken = std::move(*it->json);
    it->json->clear();  // taken: not written again by the leftovers
    return taken;
  }

 private:
  struct Entry {
    scheduler::JobId job;
    int attempt;
    std::string* json;
  };
  static bool Before(const Entry& a, const Entry& b) {
    return std::tie(a.job, a.attempt) < std::tie(b.job, b.attempt);
  }
  std::vector<Entry> entries_;
};

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
  MetricsByLease metrics(pending_results_);  // after StorePendingResults: it reads them
  std::vector<bool> carry(decisions.size(), false);
  // Leases started and ended go into one multi-row statement per table; a job's terminal
  // state written by its attempt's end is not written again by its JobFinished.
  BatchWrites writes;
  std::map<scheduler::JobId, store::JobState> ended_in;  // state FinishAttempt wrote
  for (std::size_t i = 0; i < decisions.size() && !halted(); ++i) {
    const scheduler::Decision& decision = decisions[i];
    if (const auto* d = std::get_if<scheduler::Dispatch>(&decision)) {
      if (writes.jobs.count(d->job)) FlushBatchWrites(writes, carry);  // keeps the order
      carry[i] = PrepareDispatch(*d, writes, i);
    } else if (const auto* d = std::get_if<scheduler::AttemptEnded>(&decision)) {
      if (writes.jobs.count(d->job)) FlushBatchWrites(writes, carry);
      // The attempt ended; the job is terminal now or back in the queue (a re-dispatch in
      // this same batch comes later and starts from queued).
      const std::optional<scheduler::JobState> state = scheduler_->FindJobState(d->job);
      store::JobState next = store::JobState::kQueued;
      if (state && scheduler::IsTerminal(*state)) next = ToStore(*state);
      writes.ends.push_back({d->job, d->attempt, ToStore(d->outcome), d->error, next, d->counted,
                             metrics.Take(d->job, d->attempt)});
      if (!d->counted) {
        ++(d->outcome == scheduler::AttemptOutcome::kAgentLost ? counters_.offers_lost
                                                               : counters_.busy_refusals);
      }
      writes.jobs.insert(d->job);
      ended_in[d->job] = next;
      carry[i] = true;
    } else if (const auto* d = std::get_if<scheduler::JobFinished>(&decision)) {
      auto ended = ended_in.find(d->job);
      const bool state_written = ended != ended_in.end() && ended->second == ToStore(d->state);
      if (!state_written) FlushBatchWrites(writes, carry);
      carry[i] = PersistJobFinished(*d, state_written);
      const scheduler::JobSpec* spec = scheduler_->FindJobSpec(d->job);
      if (spec != nullptr && spec->sweep_id > 0) sweeps_to_check_.insert(spec->sweep_id);
    } else {
      FlushBatchWrites(writes, carry);
      carry[i] = PersistDecision(decision);
    }
  }
  FlushBatchWrites(writes, carry);
  // Metrics no attempt end took (none expected: an accepted result ends its lease at once).
  for (const PendingResult& r : pending_results_) {
    if (halted()) break;
    if (r.metrics_json.empty()) continue;
    if (Status status = store_.SetAttemptMetrics(r.lease.job, r.lease.attempt, r.metrics_json);
        !status.ok()) {
      StoreError(status, "metrics of job " + std::to_string(r.lease.job));
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
    if (!failed.ok() || !current.ok() || current->state == store::SweepState::kCancelled) continue;
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
    if (Status status = store_.SetSweepState(
            sweep, failed->empty() ? store::SweepState::kSucceeded : store::SweepState::kFailed);
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
  OfferBatches offers;
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    if (carry[i]) CarryOut(decisions[i], offers);
  }
  for (auto& [agent, batch] : offers) SendOffers(agent, batch);
  AckPendingResults();
}

void CoordinatorImpl::FlushBatchWrites(BatchWrites& writes, std::vector<bool>& carry) {
  if (halted()) return;
  if (!writes.starts.empty()) {
    Status status = store_.StartAttempts(writes.starts);
    if (!status.ok() && !IsStoreFailure(status)) {
      // A row was refused: each on its own, so that only that one is not carried out.
      status = Status::Ok();
      for (std::size_t k = 0; k < writes.starts.size() && !halted(); ++k) {
        const store::Store::NewLease& lease = writes.starts[k];
        auto attempt = store_.StartAttempt(lease.job_id, lease.agent_id, lease.deadline_ms);
        if (!attempt.ok()) {
          StoreError(attempt.status(), "start attempt of job " + std::to_string(lease.job_id));
          carry[writes.start_decisions[k]] = false;
        } else if (attempt->attempt != lease.attempt) {
          spdlog::error("job={} scheduler attempt {} but store attempt {}", lease.job_id,
                        lease.attempt, attempt->attempt);
        }
      }
    }
    if (!status.ok())
      StoreError(status, "start " + std::to_string(writes.starts.size()) + " attempts");
  }
  if (!writes.ends.empty() && !halted()) {
    Status status = store_.FinishAttempts(writes.ends);
    if (!status.ok() && !IsStoreFailure(status)) {
      status = Status::Ok();
      for (const store::Store::EndedLease& end : writes.ends) {
        if (halted()) break;
        Status one =
            store_.FinishAttempt(end.job_id, end.attempt, end.outcome, end.error, end.next_state,
                                 end.counted);
        if (!one.ok()) {
          StoreError(one, "finish attempt of job " + std::to_string(end.job_id));
          // Its JobFinished left the terminal state to this write (as before batches, the
          // job's state is written even when its attempt row was refused).
          if (!halted() && end.next_state != store::JobState::kQueued) {
            if (Status state = store_.SetJobState(end.job_id, end.next_state); !state.ok()) {
              StoreError(state, "finish job " + std::to_string(end.job_id));
            }
          }
        }
        // The result's metrics belong to its attempt whether or not the end was refused.
        if (!halted() && !end.metrics_json.empty()) {
          if (Status m = store_.SetAttemptMetrics(end.job_id, end.attempt, end.metrics_json);
              !m.ok()) {
            StoreError(m, "metrics of job " + std::to_string(end.job_id));
          }
        }
      }
    }
    if (!status.ok())
      StoreError(status, "finish " + std::to_string(writes.ends.size()) + " attempts");
  }
  writes = BatchWrites{};
}

bool CoordinatorImpl::PrepareDispatch(const scheduler::Dispatch& d, BatchWrites& writes,
                                      std::size_t index) {
  const scheduler::JobSpec* spec = scheduler_->FindJobSpec(d.job);
  const std::int64_t sweep_id = spec == nullptr ? 0 : spec->sweep_id;
  if (!offer_params_.count(d.job)) {
    // Not a synthetic stand-in submitted by this farmd: read the row.
    auto job = store_.GetJob(d.job);
    if (!job.ok()) {
      StoreError(job.status(), "dispatch job " + std::to_string(d.job));
      return false;
    }
    offer_params_[d.job] = OfferParams(*job);
  }
  // The attempts table has one agent column: a gang's lease is recorded under rank 0.
  writes.starts.push_back({d.job, d.attempt, d.placements.at(0).agent, d.deadline_ms});
  writes.start_decisions.push_back(index);
  writes.jobs.insert(d.job);
  // A sweep read as past queued never returns to it: one read per sweep, not per job.
  if (sweep_id > 0 && !started_sweeps_.count(sweep_id)) {
    auto sweep = store_.GetSweep(sweep_id);
    if (sweep.ok() && sweep->state == store::SweepState::kQueued) {
      if (Status status = store_.SetSweepState(sweep_id, store::SweepState::kRunning);
          !status.ok()) {
        StoreError(status, "start sweep " + std::to_string(sweep_id));
      }
    } else if (sweep.ok()) {
      started_sweeps_.insert(sweep_id);
    }
  }
  return true;
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
  // Dispatch and AttemptEnded are batched (PrepareDispatch, FlushBatchWrites).
  if (const auto* d = std::get_if<scheduler::Requeue>(&decision)) {
    Status status = store_.SetJobState(d->job, store::JobState::kQueued);
    if (!status.ok()) StoreError(status, "requeue job " + std::to_string(d->job));
    return true;
  }
  if (const auto* d = std::get_if<scheduler::JobFinished>(&decision)) {
    return PersistJobFinished(*d, /*state_written=*/false);
  }
  return true;  // CancelRequest: nothing to write
}

bool CoordinatorImpl::PersistJobFinished(const scheduler::JobFinished& d, bool state_written) {
  // Written already when its attempt's end moved the job to this state.
  if (!state_written) {
    Status status = store_.SetJobState(d.job, ToStore(d.state));
    if (!status.ok()) StoreError(status, "finish job " + std::to_string(d.job));
  }
  if (d.state == scheduler::JobState::kFailed && coordinator_failures_.erase(d.job) > 0) {
    // A job farmd ran itself has no attempt to carry the error: keep it on the job.
    if (Status e = store_.SetJobError(d.job, d.reason); !e.ok()) {
      StoreError(e, "record error of job " + std::to_string(d.job));
    }
  }
  if (d.state == scheduler::JobState::kSucceeded) ++counters_.jobs_succeeded;
  if (d.state == scheduler::JobState::kFailed) ++counters_.jobs_failed;
  offer_params_.erase(d.job);
  last_progress_.erase(d.job);
  offers_sent_.erase(d.job);
  return true;
}

void CoordinatorImpl::CarryOut(const scheduler::Decision& decision, OfferBatches& batches) {
  if (const auto* d = std::get_if<scheduler::Dispatch>(&decision)) {
    const scheduler::JobSpec* spec = scheduler_->FindJobSpec(d->job);
    if (spec == nullptr) return;
    v1::JobOffer offer;
    offer.mutable_lease()->set_job_id(static_cast<std::uint64_t>(d->job));
    offer.mutable_lease()->set_attempt(static_cast<std::uint32_t>(d->attempt));
    offer.set_lease_deadline_unix_ms(static_cast<std::uint64_t>(d->deadline_ms));
    offer.set_kind(ToWire(spec->kind));
    offer.set_param_hash(spec->param_hash);
    offer.set_params_json(offer_params_[d->job]);
    for (const auto& model : spec->required_models) offer.add_required_model_sha256(model);
    offer.set_gang_size(static_cast<std::uint32_t>(d->placements.size()));
    if (d->placements.size() > 1) {
      for (const scheduler::Placement& placement : d->placements) {
        auto host = agent_hostnames_.find(placement.agent);
        offer.add_gang_hosts(host == agent_hostnames_.end() ? "" : host->second);
      }
    }
    OfferSent& sent = offers_sent_[d->job];
    sent.attempt = d->attempt;
    sent.sequence_by_agent.clear();
    for (std::size_t k = 0; k < d->placements.size(); ++k) {
      const scheduler::Placement& placement = d->placements[k];
      offer.set_gang_rank(static_cast<std::uint32_t>(placement.rank));
      // The last seat (the only one outside a gang) takes the offer itself, not a copy.
      auto place = [&](v1::JobOffer* out) {
        if (k + 1 == d->placements.size()) {
          *out = std::move(offer);
        } else {
          *out = offer;
        }
      };
      if (batch_peers_.count(placement.agent)) {
        // Sent with the agent's other offers of this batch (SendOffers numbers them).
        place(batches[placement.agent].mutable_job_offer_batch()->add_offers());
        continue;
      }
      v1::Envelope envelope;
      place(envelope.mutable_job_offer());
      Status status = Send(placement.agent, std::move(envelope));
      sent.sequence_by_agent[placement.agent] = sequence_;  // Send numbered it
      if (!status.ok()) OfferNotDelivered(placement.agent, status);
    }
    return;
  }
  if (const auto* d = std::get_if<scheduler::CancelRequest>(&decision)) {
    // Offers made earlier in this batch reach the agent before the cancel.
    if (auto queued = batches.find(d->agent); queued != batches.end()) {
      SendOffers(d->agent, queued->second);
      batches.erase(queued);
    }
    v1::Envelope envelope;
    envelope.mutable_cancel()->mutable_lease()->set_job_id(static_cast<std::uint64_t>(d->job));
    envelope.mutable_cancel()->mutable_lease()->set_attempt(static_cast<std::uint32_t>(d->attempt));
    envelope.mutable_cancel()->set_reason(d->reason);
    (void)Send(d->agent, std::move(envelope));  // a gone agent is declared lost by liveness
  }
}

void CoordinatorImpl::SendOffers(const std::string& agent, v1::Envelope& batch) {
  Status status = Send(agent, batch);
  // One sequence for the whole batch: the lost-offer rule judges each offer by it.
  for (const v1::JobOffer& offer : batch.job_offer_batch().offers()) {
    auto sent = offers_sent_.find(static_cast<scheduler::JobId>(offer.lease().job_id()));
    if (sent != offers_sent_.end()) sent->second.sequence_by_agent[agent] = sequence_;
  }
  if (!status.ok()) OfferNotDelivered(agent, status);
}

void CoordinatorImpl::OfferNotDelivered(const std::string& agent, const Status& status) {
  spdlog::warn("agent={} offers not delivered: {}", agent, status.message());
  // The leases cannot run: the scheduler requeues them with the agent's other work.
  (void)scheduler_->DeregisterAgent(agent, "unreachable: " + status.message());
}

}  // namespace farm::farmd
