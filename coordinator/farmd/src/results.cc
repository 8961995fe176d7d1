// Artifact chunks and job results: verify the bytes, fence the result through the
// scheduler, store an accepted one in one transaction with its decisions, ack it only
// after that transaction committed.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "coordinator_impl.h"

namespace farm::farmd {
namespace v1 = studiofarm::v1;
namespace {

bool ToLease(const v1::LeaseRef& wire, scheduler::LeaseRef* lease) {
  if (wire.job_id() == 0 || wire.job_id() > static_cast<std::uint64_t>(INT64_MAX) ||
      wire.attempt() == 0 || wire.attempt() > INT32_MAX) {
    return false;
  }
  *lease = {static_cast<scheduler::JobId>(wire.job_id()), static_cast<int>(wire.attempt())};
  return true;
}

bool ToResultKind(v1::ResultStatus status, scheduler::ResultKind* kind) {
  switch (status) {
    case v1::RESULT_STATUS_SUCCEEDED:
      *kind = scheduler::ResultKind::kSucceeded;
      return true;
    case v1::RESULT_STATUS_FAILED:
      *kind = scheduler::ResultKind::kFailed;
      return true;
    case v1::RESULT_STATUS_CANCELLED:
      *kind = scheduler::ResultKind::kCancelled;
      return true;
    case v1::RESULT_STATUS_RELEASED:
      *kind = scheduler::ResultKind::kReleased;
      return true;
    default:
      return false;
  }
}

}  // namespace

void CoordinatorImpl::HandleChunk(const std::string& peer, const v1::ArtifactChunk& chunk) {
  scheduler::LeaseRef lease;
  if (!ToLease(chunk.lease(), &lease) || !HoldsLease(peer, lease)) {
    ++counters_.artifacts_rejected;
    SendError(peer, v1::ERROR_CODE_UNKNOWN_LEASE,
              "artifact chunk for job " + std::to_string(chunk.lease().job_id()) + " attempt " +
                  std::to_string(chunk.lease().attempt()) + ", which this agent does not hold");
    return;
  }
  Status status = uploads_.AddChunk(peer, lease, chunk);
  if (status.code() == StatusCode::kInternal) {
    // farmd's own disk refused the bytes (full, file-size limit, I/O error): not the
    // agent's fault, and no result may be taken without them.
    return Halt(status, "artifact upload " + chunk.sha256() + " of job " +
                            std::to_string(lease.job) + " attempt " +
                            std::to_string(lease.attempt) + " from agent " + peer);
  }
  if (!status.ok()) RefuseArtifact(peer, lease, status, "");
}

void CoordinatorImpl::RefuseArtifact(const std::string& peer, scheduler::LeaseRef lease,
                                     const Status& status, const std::string& what) {
  ++counters_.artifacts_rejected;
  SendError(peer,
            status.code() == StatusCode::kDataLoss ? v1::ERROR_CODE_ARTIFACT_MISMATCH
                                                   : v1::ERROR_CODE_MALFORMED,
            "job " + std::to_string(lease.job) + " attempt " + std::to_string(lease.attempt) +
                ": " + what + status.message());
}

void CoordinatorImpl::HandleResultBatch(const std::string& peer, const v1::JobResultBatch& batch) {
  for (const v1::JobResult& result : batch.results()) {
    if (halted()) return;  // the rest stays in the agent's outbox
    HandleResult(peer, result);
  }
}

bool CoordinatorImpl::TakeInlineArtifacts(const std::string& peer, scheduler::LeaseRef lease,
                                          const v1::JobResult& result) {
  for (const v1::InlineArtifact& inline_artifact : result.inline_artifacts()) {
    // Taken as an upload of one chunk: the same size and digest checks as chunks get.
    v1::ArtifactChunk chunk;
    *chunk.mutable_lease() = result.lease();
    chunk.set_sha256(inline_artifact.sha256());
    chunk.set_offset(0);
    chunk.set_data(inline_artifact.data());
    chunk.set_last(true);
    Status status = uploads_.AddChunk(peer, lease, chunk);
    if (status.code() == StatusCode::kInternal) {
      Halt(status, "inline artifact " + inline_artifact.sha256() + " of job " +
                       std::to_string(lease.job) + " attempt " + std::to_string(lease.attempt) +
                       " from agent " + peer);
      return false;
    }
    if (!status.ok()) {
      RefuseArtifact(peer, lease, status, "inline artifact: ");
      return false;
    }
  }
  return true;
}

void CoordinatorImpl::HandleResult(const std::string& peer, const v1::JobResult& result) {
  scheduler::LeaseRef lease;
  scheduler::ResultReport report;
  if (!ToLease(result.lease(), &lease) || !ToResultKind(result.status(), &report.kind)) {
    SendError(peer, v1::ERROR_CODE_MALFORMED, "job result without a valid lease or status");
    return;
  }
  report.lease = lease;
  report.error = result.error();
  report.permanent = report.kind == scheduler::ResultKind::kFailed &&
                     result.failure_kind() == v1::FAILURE_KIND_PERMANENT;
  // A success is only a success if every artifact arrived intact; otherwise the attempt
  // failed (the job is retried) and nothing of it is stored.
  if (report.kind == scheduler::ResultKind::kSucceeded && HoldsLease(peer, lease)) {
    // A refused inline artifact is missing from the uploads: Verify fails the attempt.
    if (result.inline_artifacts_size() > 0) (void)TakeInlineArtifacts(peer, lease, result);
    if (halted()) return;
    if (Status verified = uploads_.Verify(peer, lease, result.artifacts()); !verified.ok()) {
      ++counters_.artifacts_rejected;
      SendError(peer, v1::ERROR_CODE_ARTIFACT_MISMATCH, verified.message());
      report.kind = scheduler::ResultKind::kFailed;
      report.permanent = false;  // damaged in transit: another attempt may arrive intact
      report.error = "artifact verification failed: " + verified.message();
    }
  }
  // A repeat while the first copy waits for this iteration's commit: the uploads it
  // verified (same peer, job, attempt) are the ones that commit stores.
  v1::Envelope ack;
  ack.mutable_result_ack()->mutable_lease()->CopyFrom(result.lease());
  // A refusal for want of a free slot spends no attempt (the agent's slots and farmd's
  // view of them differed, e.g. around a reconnect).
  report.busy = report.kind == scheduler::ResultKind::kReleased && result.refused_busy();
  auto verdict = scheduler_->ReportResult(peer, report);
  if (verdict.ok() && result.has_held_models()) {
    // The agent's own word on what it keeps loaded replaces the scheduler's guess.
    std::vector<std::string> held(result.held_models().sha256().begin(),
                                  result.held_models().sha256().end());
    if (Status updated = scheduler_->UpdateCachedModels(peer, std::move(held)); !updated.ok()) {
      spdlog::info("agent={} held models not taken: {}", peer, updated.message());
    }
  }
  if (!verdict.ok()) {
    if (!HasPendingResult(peer, lease)) uploads_.Drop(peer, lease);
    if (!scheduler_->GetAgent(peer).ok()) {
      // Not registered: it registers again and resends, so do not ack.
      SendError(peer, v1::ERROR_CODE_NOT_REGISTERED, verdict.status().message());
      return;
    }
    ++counters_.results_ignored;
    ack.mutable_result_ack()->set_accepted(false);
    (void)Send(peer, std::move(ack));
    return;
  }
  // As farm.proto defines it (false: not the lease holder): a repeat of an accepted result
  // by the agent that reported it is acknowledged as accepted (its work is in); the same
  // (job, attempt) from any other agent is refused.
  bool accepted = verdict->verdict == scheduler::ResultVerdict::kAccepted;
  if (verdict->verdict == scheduler::ResultVerdict::kDuplicate) {
    auto job = scheduler_->GetJob(lease.job);
    if (job.ok()) {
      for (const scheduler::AttemptRecord& attempt : job->attempts) {
        if (attempt.attempt == lease.attempt && attempt.reported_by == peer) accepted = true;
      }
    }
  }
  ack.mutable_result_ack()->set_accepted(accepted);
  if (verdict->verdict != scheduler::ResultVerdict::kAccepted) {
    ++counters_.results_ignored;
    spdlog::info("agent={} job={} attempt={} result ignored: {}", peer, lease.job, lease.attempt,
                 verdict->reason);
    // If the first copy still waits for the commit, its verified uploads (the same key)
    // are kept for it, and an "accepted" ack waits too: the agent forgets the result once
    // acked, so the ack must not come before the result is stored.
    if (!HasPendingResult(peer, lease)) {
      uploads_.Drop(peer, lease);
    } else if (accepted) {
      acks_after_commit_.emplace_back(peer, std::move(ack));
      return;
    }
    (void)Send(peer, std::move(ack));
    return;
  }
  ++counters_.results_accepted;
  const scheduler::JobSpec* spec = scheduler_->FindJobSpec(lease.job);
  PendingResult pending;
  pending.peer = peer;
  pending.lease = lease;
  pending.succeeded = report.kind == scheduler::ResultKind::kSucceeded;
  pending.is_render = spec != nullptr && spec->kind == scheduler::JobKind::kRender;
  pending.is_train = spec != nullptr && spec->kind == scheduler::JobKind::kTrain;
  if (pending.is_render) pending.param_hash = spec->param_hash;  // its row is found by it
  if (pending.succeeded) {
    pending.artifacts.assign(result.artifacts().begin(), result.artifacts().end());
  }
  if (!result.metrics().empty()) {
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [name, value] : result.metrics()) {
      if (std::isfinite(value)) metrics[name] = value;  // JSON has no NaN or infinity
    }
    pending.metrics_json = metrics.dump();
  }
  pending.ack = std::move(ack);
  pending_results_.push_back(std::move(pending));
}

void CoordinatorImpl::StorePendingResults() {
  // Named outputs of every result: one multi-row statement after the loop.
  std::vector<store::Store::JobArtifactLink> links;
  // Artifacts stored in this batch by digest: many results with the same bytes (an empty
  // file) need one row.
  std::map<std::string, std::int64_t> stored_in_batch;
  for (const PendingResult& r : pending_results_) {
    if (halted()) return;  // the batch rolls back: no further write may run
    // This result's named outputs are links[own_links..]: dropped again if it fails.
    const std::size_t own_links = links.size();
    std::map<std::string, std::int64_t> by_name;  // artifact name -> id (a train run's)
    store::RenderResultUpdate render_result;      // a render's image, faces, agent, time
    render_result.job_id = r.lease.job;
    auto store_artifacts = [&]() -> Status {
      for (auto it = r.artifacts.begin(); it != r.artifacts.end(); ++it) {
        const v1::ArtifactDescriptor& d = *it;
        // Artifacts with the same bytes (a stage that changed nothing) were uploaded once:
        // a repeat takes the row its first descriptor stored (in stored_in_batch).
        const bool repeat = std::any_of(r.artifacts.begin(), it, [&](const auto& earlier) {
          return earlier.sha256() == d.sha256();
        });
        std::int64_t artifact_id = repeat ? stored_in_batch.at(d.sha256()) : 0;
        if (!repeat) {
          FARM_ASSIGN_OR_RETURN(std::string path, uploads_.Commit(r.peer, r.lease, d.sha256()));
          auto batch_known = stored_in_batch.find(d.sha256());
          if (batch_known != stored_in_batch.end()) {
            artifact_id = batch_known->second;  // its row is in this transaction already
          } else {
            store::NewArtifact artifact;
            artifact.sha256 = d.sha256();
            artifact.size = static_cast<std::int64_t>(d.size_bytes());
            artifact.path = path;
            artifact.media_type =
                d.media_type().empty() ? "application/octet-stream" : d.media_type();
            FARM_ASSIGN_OR_RETURN(artifact_id, store_.InsertArtifact(artifact));
            stored_in_batch.emplace(d.sha256(), artifact_id);
          }
          ++counters_.artifacts_stored;
        }
        // By name too: agents fetch "the artifact N of the job with param_hash H".
        if (!d.name().empty()) {
          links.push_back({r.lease.job, d.name(), artifact_id});
          if (r.is_train) by_name[d.name()] = artifact_id;
        }
        constexpr std::string_view kStagePrefix = "stage/";
        if (r.is_render && d.name().rfind(kStagePrefix, 0) == 0) {
          FARM_ASSIGN_OR_RETURN(store::Render render, store_.GetRenderByHash(r.param_hash));
          FARM_RETURN_IF_ERROR(store_.SetRenderStageImage(
              render.id, d.name().substr(kStagePrefix.size()), artifact_id));
        } else if (r.is_render && d.name() == "record") {
          FARM_ASSIGN_OR_RETURN(store::Render render, store_.GetRenderByHash(r.param_hash));
          FARM_RETURN_IF_ERROR(store_.SetRenderRecordArtifact(render.id, artifact_id));
        } else if (r.is_render && d.name() == "faces") {
          FARM_ASSIGN_OR_RETURN(store::Render render, store_.GetRenderByHash(r.param_hash));
          FARM_RETURN_IF_ERROR(store_.SetRenderFacesArtifact(render.id, artifact_id));
          render_result.faces_artifact_id = artifact_id;
        } else if (r.is_render && (d.name() == "image" || r.artifacts.size() == 1)) {
          FARM_ASSIGN_OR_RETURN(store::Render render, store_.GetRenderByHash(r.param_hash));
          FARM_RETURN_IF_ERROR(store_.SetRenderArtifact(render.id, artifact_id));
          render_result.artifact_id = artifact_id;
          render_result.image_sha256 = d.sha256();
        }
      }
      if (r.is_render && render_result.artifact_id != 0) {
        FARM_RETURN_IF_ERROR(RecordRenderResult(r, render_result));
      }
      return Status::Ok();
    };
    // One result's failure must not keep the others out of the transaction.
    if (Status status = store_artifacts(); !status.ok()) {
      links.resize(own_links);
      StoreError(status, "result of job " + std::to_string(r.lease.job) + " attempt " +
                             std::to_string(r.lease.attempt) + " from agent " + r.peer);
      if (halted()) return;
    } else if (r.is_train && r.succeeded) {
      // A training run's rows may read the job's named outputs: stored first, row by row.
      const std::vector<store::Store::JobArtifactLink> train_links(links.begin() + own_links,
                                                                   links.end());
      links.resize(own_links);
      Status status = store_.SetJobArtifacts(train_links);
      if (status.ok()) status = StoreTrainRun(r, by_name);
      if (!status.ok()) {
        StoreError(status, "training run of job " + std::to_string(r.lease.job));
        if (halted()) return;
      }
    }
    // The metrics are written with the attempt's end (ProcessDecisions).
  }
  if (halted() || links.empty()) return;
  if (Status status = store_.SetJobArtifacts(links); !status.ok()) {
    if (IsStoreFailure(status)) {
      return StoreError(status, "named outputs of " + std::to_string(links.size()) + " artifacts");
    }
    // A row was refused: each on its own, so that only that one is missing.
    for (const store::Store::JobArtifactLink& link : links) {
      if (halted()) return;
      if (Status one = store_.SetJobArtifact(link.job_id, link.name, link.artifact_id); !one.ok()) {
        StoreError(one, "output '" + link.name + "' of job " + std::to_string(link.job_id));
      }
    }
  }
}

Status CoordinatorImpl::RecordRenderResult(const PendingResult& r,
                                           store::RenderResultUpdate update) {
  if (auto agent = store_.GetAgent(r.peer); agent.ok()) update.agent_version = agent->version;
  update.agent_id = r.peer;
  if (!r.metrics_json.empty()) {
    const nlohmann::json metrics = nlohmann::json::parse(r.metrics_json, nullptr, false);
    auto total = metrics.is_object() ? metrics.find("seconds_total") : metrics.end();
    if (total != metrics.end() && total->is_number()) update.seconds = total->get<double>();
  }
  return store_.RecordRenderResult(update);
}

void CoordinatorImpl::AckPendingResults() {
  std::vector<PendingResult> pending;
  pending.swap(pending_results_);
  for (PendingResult& r : pending) {
    uploads_.Drop(r.peer, r.lease);
    QueueAck(r.peer, std::move(r.ack));
  }
  std::vector<std::pair<std::string, v1::Envelope>> repeats;
  repeats.swap(acks_after_commit_);
  for (auto& [peer, ack] : repeats) QueueAck(peer, std::move(ack));
  FlushAcks();
}

void CoordinatorImpl::QueueAck(const std::string& peer, v1::Envelope ack) {
  if (!batch_peers_.count(peer)) {
    (void)Send(peer, std::move(ack));
    return;
  }
  *acks_out_[peer].add_acks() = std::move(*ack.mutable_result_ack());
}

void CoordinatorImpl::FlushAcks() {
  std::map<std::string, v1::ResultAckBatch> out;
  out.swap(acks_out_);
  for (auto& [peer, acks] : out) {
    v1::Envelope envelope;
    *envelope.mutable_result_ack_batch() = std::move(acks);
    (void)Send(peer, std::move(envelope));  // a lost ack: the agent resends, farmd acks again
  }
}

}  // namespace farm::farmd
