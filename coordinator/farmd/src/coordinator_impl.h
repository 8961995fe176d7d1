// The Coordinator's state and the loop's handlers, split by concern over several .cc
// files: coordinator.cc (loop, dispatch of envelopes, posted tasks), registration.cc
// (Register, Heartbeat, Progress, heartbeats to agents), results.cc (chunks, results),
// artifact_fetch.cc (agents downloading artifacts),
// decisions.cc (persist then carry out), recovery.cc (Restore), submit.cc, metrics.cc.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "artifact_reads.h"
#include "artifact_uploads.h"
#include "farm.pb.h"
#include "farm/farmd/coordinator.h"

namespace farm::farmd {

// The store itself failed (I/O, corruption, an artifact file not written), not one row:
// StoreError halts farmd on these.
bool IsStoreFailure(const Status& status);

class CoordinatorImpl {
 public:
  CoordinatorImpl(CoordinatorOptions options, store::Store& store, transport::AgentLink& link,
                  const scheduler::Clock& clock);

  Status Init();  // creates the scheduler, restores it, prepares the artifact root
  Status RunOnce();
  Status Run(const std::atomic<bool>& stop);
  void Post(std::function<void()> task);

  StatusOr<SubmitResult> SubmitSweep(std::string_view yaml, std::string_view file_name,
                                     const sweep::SpecPresets& presets,
                                     sweep::SpecResolver& resolver, const SubmitOptions& options);
  std::string MetricsText() const;

  // ---- handlers (loop thread) ----
  void HandleEnvelope(const std::string& peer, const studiofarm::v1::Envelope& envelope);
  void HandleRegister(const std::string& peer, const studiofarm::v1::Register& reg);
  void HandleHeartbeat(const std::string& peer, const studiofarm::v1::Heartbeat& beat);
  void HandleProgress(const std::string& peer, const studiofarm::v1::Progress& progress);
  void HandleChunk(const std::string& peer, const studiofarm::v1::ArtifactChunk& chunk);
  void HandleResult(const std::string& peer, const studiofarm::v1::JobResult& result);
  // Results of a JobResultBatch, each handled as its own JobResult.
  void HandleResultBatch(const std::string& peer, const studiofarm::v1::JobResultBatch& batch);
  // Takes a result's inline artifacts as complete uploads (verified like chunks); false
  // when one was refused (the agent got an Error, the result is judged without it).
  bool TakeInlineArtifacts(const std::string& peer, scheduler::LeaseRef lease,
                           const studiofarm::v1::JobResult& result);
  // Artifact downloads (artifact_fetch.cc): resolve answers at once, reads are queued
  // and served by ServeArtifactReads within a byte budget per iteration.
  void HandleArtifactResolve(const std::string& peer, const studiofarm::v1::ArtifactResolve& request);
  void HandleArtifactRead(const std::string& peer, const studiofarm::v1::ArtifactRead& read);
  void ServeArtifactReads();

  // Drains the scheduler's decisions, writes them (and `extra`, e.g. an accepted result's
  // artifacts) in one transaction, then sends offers and cancels.
  void ProcessDecisions(const std::function<Status()>& extra = {});
  // Group commit: results accepted since the last ProcessDecisions are stored in its
  // transaction (with their decisions) and acked only after it committed.
  void StorePendingResults();
  void AckPendingResults();
  // Persists one decision inside the open transaction; false: do not carry it out.
  bool PersistDecision(const scheduler::Decision& decision);
  // `state_written`: the job's terminal state was stored with its attempt's end.
  bool PersistJobFinished(const scheduler::JobFinished& finished, bool state_written);
  // Offers to batch peers are collected per agent (one JobOfferBatch envelope each) and
  // sent by SendOffers after the others; a cancel to an agent sends its batch first.
  using OfferBatches = std::map<std::string, studiofarm::v1::Envelope>;
  void CarryOut(const scheduler::Decision& decision, OfferBatches& batches);
  void SendOffers(const std::string& agent, studiofarm::v1::Envelope& batch);
  void OfferNotDelivered(const std::string& agent, const Status& status);

  // Jobs farmd completes itself (score_jobs.cc): takes the runnable ones from the
  // scheduler, completes them, and stores their rows with the decisions.
  void RunCoordinatorJobs();
  StatusOr<store::NewScore> ComputeScore(scheduler::JobId job);

  // Drain requests (agent_drain.cc): kept by agent id, applied whenever it registers.
  Status SetAgentDraining(const std::string& agent_id, bool draining);
  void ApplyDrainRequest(const std::string& agent_id);
  std::set<std::string> drain_requested_;

  void SendHeartbeats();
  void SyncAgentStates();  // writes scheduler agent state changes to the agents table
  Status Restore();
  void RunPostedTasks();

  // true when `peer` holds `lease` now (a chunk or result from it may be kept).
  bool HoldsLease(const std::string& peer, scheduler::LeaseRef lease) const;
  // true when a result of `peer` for `lease` waits for this iteration's commit (its
  // verified uploads are still needed).
  bool HasPendingResult(const std::string& peer, scheduler::LeaseRef lease) const;
  Status Send(const std::string& peer, studiofarm::v1::Envelope envelope);
  void SendError(const std::string& peer, studiofarm::v1::ErrorCode code,
                 const std::string& message);
  // An artifact chunk or inline artifact that failed its checks: counted and answered
  // with ARTIFACT_MISMATCH (size or digest) or MALFORMED; `what` prefixes the message.
  void RefuseArtifact(const std::string& peer, scheduler::LeaseRef lease, const Status& status,
                      const std::string& what);
  // Logs a failed store call; one that means the store itself failed (I/O error, disk or
  // file-size limit full, corruption, an artifact file not written) halts farmd.
  void StoreError(const Status& status, const std::string& what);
  // Fail-stop: a batch that cannot be stored is never carried out or acknowledged. Logs
  // `what` and the error, keeps the first one; from then on the loop does nothing and
  // Run returns it (farmd exits non-zero). Agents keep unacknowledged results in their
  // outbox and resend them to the next farmd.
  void Halt(const Status& status, const std::string& what);
  bool halted() const { return !halt_.ok(); }
  // "batch N: results job=J attempt=A ..., M decisions" for the log of a failed batch.
  std::string DescribeBatch(const std::vector<scheduler::Decision>& decisions) const;

  CoordinatorOptions options_;
  store::Store& store_;
  transport::AgentLink& link_;
  const scheduler::Clock& clock_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  ArtifactUploads uploads_;
  ArtifactReads reads_;
  LoopCounters counters_;
  std::string session_id_;
  std::uint64_t sequence_ = 0;
  scheduler::TimeMs last_tick_ms_ = 0;
  scheduler::TimeMs last_heartbeat_ms_ = 0;
  std::uint64_t logged_dropped_frames_ = 0;  // link drops already logged
  std::map<std::string, scheduler::AgentState> written_agent_states_;
  // The latest progress per running job; dropped when the job finishes.
  std::map<scheduler::JobId, JobProgress> last_progress_;
  // The hostname each agent registered with: a gang offer lists its seats' hosts.
  std::map<std::string, std::string> agent_hostnames_;
  // Offer payload per job: a synthetic stand-in's (a few bytes) is kept from submit, so
  // that its dispatch reads nothing from the store; any other job's is read from its row
  // when it is dispatched (a render costs seconds, one row read is noise).
  std::map<scheduler::JobId, std::string> offer_params_;
  // Agents whose Register set `batches`: offers and acks go to them in batches.
  std::set<std::string> batch_peers_;
  // Acks waiting to be sent after the commit, per agent (one ResultAckBatch each).
  std::map<std::string, studiofarm::v1::ResultAckBatch> acks_out_;
  // Queues an ack for `peer` (batched for a batch peer) and sends everything queued.
  void QueueAck(const std::string& peer, studiofarm::v1::Envelope ack);
  void FlushAcks();
  // Leases and attempt ends of one decision batch, written with one multi-row statement
  // per table (Store::StartAttempts, FinishAttempts); a job appears at most once, so a
  // job's later decision in the same batch flushes them first.
  struct BatchWrites {
    std::vector<store::Store::NewLease> starts;
    std::vector<std::size_t> start_decisions;  // index of each start's Dispatch decision
    std::vector<store::Store::EndedLease> ends;
    std::set<scheduler::JobId> jobs;
  };
  void FlushBatchWrites(BatchWrites& writes, std::vector<bool>& carry);
  // Persists a Dispatch into `writes` (the offer params and the sweep's start now).
  bool PrepareDispatch(const scheduler::Dispatch& d, BatchWrites& writes, std::size_t index);
  // The Envelope.sequence of the latest offer sent per job: its attempt and, per agent
  // holding a seat, the sequence (lost offers, see HandleHeartbeat). Dropped when the job
  // finishes.
  struct OfferSent {
    int attempt = 0;
    std::map<std::string, std::uint64_t> sequence_by_agent;
  };
  std::map<scheduler::JobId, OfferSent> offers_sent_;
  // Accepted results waiting for the iteration's commit (see StorePendingResults).
  struct PendingResult {
    std::string peer;
    scheduler::LeaseRef lease;
    bool succeeded = false;
    bool is_render = false;
    bool is_train = false;
    std::string param_hash;  // a render's (empty for other kinds)
    std::vector<studiofarm::v1::ArtifactDescriptor> artifacts;
    // The result's metrics; empty when it had none, or once its attempt's end took them.
    std::string metrics_json;
    studiofarm::v1::Envelope ack;
  };
  std::vector<PendingResult> pending_results_;
  // A succeeded train job's run, steps and LoRA checkpoints (train_results.cc), inside
  // the result's transaction; `artifacts` maps each artifact name to its id.
  Status StoreTrainRun(const PendingResult& result, const std::map<std::string, std::int64_t>& artifacts);
  // A succeeded render's image, faces, agent and seconds (the agent's seconds_total) in
  // every render_results row its job serves, inside the result's transaction.
  Status RecordRenderResult(const PendingResult& result, store::RenderResultUpdate update);
  // Acks of repeated results whose first copy waits in pending_results_: sent with it,
  // after the commit, never before.
  std::vector<std::pair<std::string, studiofarm::v1::Envelope>> acks_after_commit_;
  Status halt_;              // set once by Halt
  std::uint64_t batches_ = 0;  // decision batches begun, to name one in the log
  std::set<scheduler::JobId> coordinator_failures_;  // failed by farmd, error not yet stored
  // Sweeps whose jobs finished, checked for completion at once when no work is left,
  // else at most once a second: the check scans the sweep's jobs, too slow for every
  // batch of a big sweep.
  std::set<std::int64_t> sweeps_to_check_;
  scheduler::TimeMs last_sweep_check_ms_ = 0;
  std::set<std::int64_t> started_sweeps_;  // sweeps read as running or finished

  std::mutex tasks_mutex_;
  std::deque<std::function<void()>> tasks_;  // guarded by tasks_mutex_
};

}  // namespace farm::farmd
