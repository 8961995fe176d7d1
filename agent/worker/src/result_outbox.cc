#include "result_outbox.h"

#include "farm/agent/artifact_chunker.h"
#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace v1 = studiofarm::v1;

namespace {

// Whether an earlier artifact of the result has the same digest as artifact `i`.
bool SentBefore(const v1::JobResult& result, int i) {
  for (int j = 0; j < i; ++j) {
    if (result.artifacts(j).sha256() == result.artifacts(i).sha256()) return true;
  }
  return false;
}

v1::LeaseRef ToRef(const LeaseKey& lease) {
  v1::LeaseRef ref;
  ref.set_job_id(lease.job_id);
  ref.set_attempt(lease.attempt);
  return ref;
}

}  // namespace

PendingResult BuildResult(SlotEvent finished) {
  PendingResult out;
  v1::JobResult& result = out.result;
  *result.mutable_lease() = ToRef(finished.lease);
  JobOutcome& outcome = finished.outcome;
  switch (outcome.status) {
    case JobStatus::kSucceeded:
      result.set_status(v1::RESULT_STATUS_SUCCEEDED);
      break;
    case JobStatus::kFailed:
      result.set_status(v1::RESULT_STATUS_FAILED);
      result.set_exit_code(1);
      result.set_failure_kind(outcome.permanent ? v1::FAILURE_KIND_PERMANENT
                                                : v1::FAILURE_KIND_TRANSIENT);
      break;
    case JobStatus::kCancelled:
      // A job stopped for shutdown gives its lease back; one stopped by farmd is cancelled.
      result.set_status(finished.stop_reason == CancellationToken::Reason::kReleased
                            ? v1::RESULT_STATUS_RELEASED
                            : v1::RESULT_STATUS_CANCELLED);
      break;
  }
  result.set_error(outcome.error);
  result.mutable_timings()->set_run_ms(static_cast<uint64_t>(finished.run_time.count()));
  for (const auto& [name, value] : outcome.metrics) (*result.mutable_metrics())[name] = value;
  if (outcome.status == JobStatus::kSucceeded) {
    for (std::size_t i = 0; i < outcome.artifacts.size(); ++i) {
      OutputArtifact& artifact = outcome.artifacts[i];
      v1::ArtifactDescriptor* d = result.add_artifacts();
      d->set_name(artifact.name);
      d->set_sha256(i < finished.artifact_sha256.size() ? finished.artifact_sha256[i]
                                                        : Sha256Hex(artifact.bytes));
      d->set_size_bytes(artifact.bytes.size());
      d->set_media_type(artifact.media_type);
      out.artifact_bytes.push_back(std::move(artifact.bytes));
    }
  }
  return out;
}

PendingResult BuildRefusal(const LeaseKey& lease, v1::ResultStatus status, std::string error) {
  PendingResult out;
  *out.result.mutable_lease() = ToRef(lease);
  out.result.set_status(status);
  out.result.set_error(std::move(error));
  return out;
}

void ResultOutbox::Add(const LeaseKey& lease, PendingResult result) {
  Entry entry;
  entry.pending = std::move(result);
  pending_[lease] = std::move(entry);
}

bool ResultOutbox::Ack(const LeaseKey& lease) { return pending_.erase(lease) != 0; }

std::vector<LeaseKey> ResultOutbox::Leases() const {
  std::vector<LeaseKey> out;
  out.reserve(pending_.size());
  for (const auto& [lease, entry] : pending_) out.push_back(lease);
  return out;
}

bool ResultOutbox::HasUnsent() const {
  for (const auto& [lease, entry] : pending_) {
    if (!entry.result_sent) return true;
  }
  return false;
}

void ResultOutbox::RestartAll() {
  for (auto& [lease, entry] : pending_) Restart(lease);
}

void ResultOutbox::Restart(const LeaseKey& lease) {
  auto it = pending_.find(lease);
  if (it == pending_.end()) return;
  it->second.next_artifact = 0;
  it->second.next_offset = 0;
  it->second.started_artifact = false;
  it->second.result_sent = false;
}

void ResultOutbox::RestartUnacked(int ticks) {
  for (auto& [lease, entry] : pending_) {
    if (!entry.result_sent || ++entry.ticks_since_sent <= ticks) continue;
    Restart(lease);
  }
}

Status ResultOutbox::SendUnsent(const SendFn& send) {
  for (auto& [lease, entry] : pending_) {
    if (entry.result_sent) continue;
    FARM_RETURN_IF_ERROR(SendOne(entry, send));
  }
  return Status::Ok();
}

Status ResultOutbox::SendUnsentBatched(const SendFn& send) {
  v1::Envelope batch;
  std::vector<Entry*> in_batch;
  std::size_t batch_bytes = 0;
  auto flush = [&]() -> Status {
    if (in_batch.empty()) return Status::Ok();
    FARM_RETURN_IF_ERROR(send(batch));
    for (Entry* entry : in_batch) {
      entry->result_sent = true;
      entry->ticks_since_sent = 0;
    }
    in_batch.clear();
    batch.Clear();
    batch_bytes = 0;
    return Status::Ok();
  };
  for (auto& [lease, entry] : pending_) {
    if (entry.result_sent) continue;
    const v1::JobResult& result = entry.pending.result;
    bool small = entry.next_artifact == 0 && !entry.started_artifact;  // no upload begun
    std::size_t bytes = 0;
    for (const std::string& artifact : entry.pending.artifact_bytes) {
      small = small && artifact.size() <= kInlineArtifactBytes;
      bytes += artifact.size();
    }
    if (!small) {
      FARM_RETURN_IF_ERROR(flush());
      FARM_RETURN_IF_ERROR(SendOne(entry, send));
      continue;
    }
    if (!in_batch.empty() && (batch_bytes + bytes > kResultBatchBytes ||
                              static_cast<int>(in_batch.size()) >= kResultBatchResults)) {
      FARM_RETURN_IF_ERROR(flush());
    }
    v1::JobResult* out = batch.mutable_job_result_batch()->add_results();
    *out = result;
    for (int i = 0; i < result.artifacts_size(); ++i) {
      if (SentBefore(result, i)) continue;  // the same bytes once
      v1::InlineArtifact* inline_artifact = out->add_inline_artifacts();
      inline_artifact->set_sha256(result.artifacts(i).sha256());
      inline_artifact->set_data(entry.pending.artifact_bytes[i]);
    }
    in_batch.push_back(&entry);
    batch_bytes += bytes + 256;
  }
  return flush();
}

Status ResultOutbox::SendOne(Entry& entry, const SendFn& send) {
  const v1::JobResult& result = entry.pending.result;
  while (entry.next_artifact < result.artifacts_size()) {
    // Uploads are keyed by digest: two artifacts with the same bytes (a stage that left
    // the image as it was) are sent once.
    if (SentBefore(result, entry.next_artifact)) {
      ++entry.next_artifact;
      continue;
    }
    const std::string& bytes = entry.pending.artifact_bytes[entry.next_artifact];
    const std::string_view rest = std::string_view(bytes).substr(entry.next_offset);
    // A resumed upload continues at next_offset; chunk offsets stay absolute.
    ArtifactChunker chunker(result.lease(), result.artifacts(entry.next_artifact).sha256(), rest);
    if (entry.started_artifact && rest.empty()) {  // last chunk already sent
      ++entry.next_artifact;
      entry.next_offset = 0;
      entry.started_artifact = false;
      continue;
    }
    v1::Envelope envelope;
    while (chunker.Next(envelope.mutable_artifact_chunk())) {
      v1::ArtifactChunk* chunk = envelope.mutable_artifact_chunk();
      const uint64_t size = chunk->data().size();
      chunk->set_offset(entry.next_offset);
      FARM_RETURN_IF_ERROR(send(envelope));
      entry.started_artifact = true;
      entry.next_offset += size;
      if (chunk->last()) break;
    }
    ++entry.next_artifact;
    entry.next_offset = 0;
    entry.started_artifact = false;
  }
  v1::Envelope envelope;
  *envelope.mutable_job_result() = result;
  FARM_RETURN_IF_ERROR(send(envelope));
  entry.result_sent = true;
  entry.ticks_since_sent = 0;
  return Status::Ok();
}

}  // namespace farm::agent
