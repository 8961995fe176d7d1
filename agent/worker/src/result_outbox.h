// Results waiting for farmd's ResultAck, with their artifact bytes.
//
// A result is uploaded as its artifacts' chunks followed by the JobResult. Uploads resume
// where a full send queue stopped them, and start over on every new session (after a
// Welcome), because farmd may have lost a partial upload with the old connection.
// Not thread-safe: socket thread only.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "farm.pb.h"
#include "job_slots.h"

namespace farm::agent {

// Turns a finished job into the JobResult farmd expects (descriptors with SHA-256 and
// size, status mapped from the outcome and why the job was stopped).
struct PendingResult {
  studiofarm::v1::JobResult result;
  std::vector<std::string> artifact_bytes;  // parallel to result.artifacts()
};
PendingResult BuildResult(SlotEvent finished);

// A result for an offer the agent does not run (released, or no runner for its kind).
PendingResult BuildRefusal(const LeaseKey& lease, studiofarm::v1::ResultStatus status,
                           std::string error);

// Largest artifact sent inline in a result (JobResult.inline_artifacts), and about the
// most bytes and results one JobResultBatch carries.
inline constexpr std::size_t kInlineArtifactBytes = 64u << 10;
inline constexpr std::size_t kResultBatchBytes = 1u << 20;
inline constexpr int kResultBatchResults = 256;

class ResultOutbox {
 public:
  using SendFn = std::function<Status(studiofarm::v1::Envelope&)>;

  void Add(const LeaseKey& lease, PendingResult result);
  bool Contains(const LeaseKey& lease) const { return pending_.count(lease) != 0; }
  // Forgets an acknowledged result; false if it was not pending.
  bool Ack(const LeaseKey& lease);
  bool empty() const { return pending_.empty(); }
  // The leases whose results wait for their ack, ascending.
  std::vector<LeaseKey> Leases() const;
  bool HasUnsent() const;

  // Marks every result (or one) to be uploaded again from its first chunk.
  void RestartAll();
  void Restart(const LeaseKey& lease);
  // Called once per heartbeat: a result sent `ticks` calls ago and still not acknowledged
  // was lost on the way (a dropped connection loses what was queued on it): it is sent
  // again, from its first chunk. farmd answers a repeat with an ack (duplicate).
  void RestartUnacked(int ticks);

  // Sends whatever is not yet sent, in lease order; stops at the first failed send and
  // returns its status (the upload resumes there on the next call).
  Status SendUnsent(const SendFn& send);
  // As SendUnsent, to a farmd that takes batches (Welcome.batches): results whose
  // artifacts are each at most kInlineArtifactBytes go in JobResultBatch messages with
  // their artifacts inline; the others as SendUnsent sends them.
  Status SendUnsentBatched(const SendFn& send);

 private:
  struct Entry {
    PendingResult pending;
    int next_artifact = 0;
    uint64_t next_offset = 0;
    bool started_artifact = false;
    bool result_sent = false;
    int ticks_since_sent = 0;  // RestartUnacked calls since result_sent
  };
  Status SendOne(Entry& entry, const SendFn& send);

  std::map<LeaseKey, Entry> pending_;
};

}  // namespace farm::agent
