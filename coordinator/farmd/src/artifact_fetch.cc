// Agents downloading stored artifacts: a registered agent may resolve a job's named output
// and read any stored artifact by SHA-256 (artifact_reads.h).
#include <spdlog/spdlog.h>

#include "coordinator_impl.h"

namespace farm::farmd {
namespace v1 = studiofarm::v1;

void CoordinatorImpl::HandleArtifactResolve(const std::string& peer,
                                            const v1::ArtifactResolve& request) {
  if (!scheduler_->GetAgent(peer).ok()) {
    SendError(peer, v1::ERROR_CODE_NOT_REGISTERED, "artifact resolve from an unregistered agent");
    return;
  }
  v1::Envelope envelope;
  *envelope.mutable_artifact_info() = reads_.Resolve(store_, request);
  ++counters_.artifact_resolves;
  if (envelope.artifact_info().error() != v1::FETCH_ERROR_NONE) {
    spdlog::info("agent={} artifact resolve: {}", peer, envelope.artifact_info().message());
  }
  (void)Send(peer, std::move(envelope));  // a lost answer is asked for again
}

void CoordinatorImpl::HandleArtifactRead(const std::string& peer, const v1::ArtifactRead& read) {
  if (!scheduler_->GetAgent(peer).ok()) {
    SendError(peer, v1::ERROR_CODE_NOT_REGISTERED, "artifact read from an unregistered agent");
    return;
  }
  if (reads_.Enqueue(peer, read)) return;
  v1::Envelope envelope;
  v1::ArtifactData* busy = envelope.mutable_artifact_data();
  busy->set_request_id(read.request_id());
  busy->set_sha256(read.sha256());
  busy->set_offset(read.offset());
  busy->set_error(v1::FETCH_ERROR_BUSY);
  busy->set_message("farmd has " + std::to_string(reads_.queued()) +
                    " artifact reads waiting; ask again later");
  ++counters_.artifact_reads;
  (void)Send(peer, std::move(envelope));
}

void CoordinatorImpl::ServeArtifactReads() {
  if (reads_.queued() == 0) return;
  reads_.Serve(store_, [this](const std::string& peer, v1::Envelope envelope) {
    ++counters_.artifact_reads;
    const v1::ArtifactData& data = envelope.artifact_data();
    if (data.error() != v1::FETCH_ERROR_NONE && data.error() != v1::FETCH_ERROR_BUSY) {
      spdlog::info("agent={} artifact read: {}", peer, data.message());
    }
    // ROUTER_MANDATORY: a full or gone peer fails here; the agent asks again after its
    // timeout, so nothing waits on this answer.
    (void)Send(peer, std::move(envelope));
  });
}

}  // namespace farm::farmd
