// The loop itself, the dispatch of envelopes and the Coordinator's public face.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <thread>

#include "coordinator_impl.h"

namespace farm::farmd {
namespace v1 = studiofarm::v1;

namespace {

// Consecutive failed Receives (100 ms apart) before Run gives up.
constexpr int kMaxLinkFailures = 50;

std::string RandomSessionId() {
  std::random_device device;
  std::mt19937_64 rng((static_cast<std::uint64_t>(device()) << 32) ^ device());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 16; ++i) id += kHex[rng() % 16];
  return id;
}

}  // namespace

CoordinatorImpl::CoordinatorImpl(CoordinatorOptions options, store::Store& store,
                                 transport::AgentLink& link, const scheduler::Clock& clock)
    : options_(std::move(options)),
      store_(store),
      link_(link),
      clock_(clock),
      uploads_(options_.artifact_root, options_.max_artifact_bytes, options_.max_uploads_per_lease),
      reads_(options_.artifact_root, options_.max_queued_artifact_reads,
             std::max<std::uint64_t>(options_.artifact_read_bytes_per_iteration, 1)),
      session_id_(options_.session_id.empty() ? RandomSessionId() : options_.session_id) {}

Status CoordinatorImpl::Init() {
  if (options_.artifact_root.empty()) return InvalidArgument("artifact_root is required");
  if (options_.tick_interval_ms <= 0) return InvalidArgument("tick_interval_ms must be > 0");
  if (options_.max_receive_batch == 0) return InvalidArgument("max_receive_batch must be > 0");
  if (store_.read_only()) return FailedPrecondition("farmd needs a writable store");
  scheduler::SchedulerOptions scheduler_options = options_.scheduler;
  // Score jobs are cheap math on data farmd holds: it completes them, agents never get them.
  scheduler_options.coordinator_kinds = {scheduler::JobKind::kScore};
  FARM_ASSIGN_OR_RETURN(scheduler_, scheduler::Scheduler::Create(clock_, scheduler_options));
  FARM_RETURN_IF_ERROR(uploads_.Prepare());
  FARM_RETURN_IF_ERROR(Restore());
  // Restore may requeue expired leases at once: persist that before any agent talks.
  ProcessDecisions();
  RunCoordinatorJobs();  // restored score jobs whose render is done
  return halt_;
}

Status CoordinatorImpl::RunOnce() {
  if (halted()) return halt_;
  auto inbound = link_.Receive(options_.receive_timeout, options_.max_receive_batch);
  if (!inbound.ok()) return inbound.status();
  for (const transport::Inbound& message : *inbound) {
    if (halted()) return halt_;  // the rest of the batch waits in the agents' outboxes
    ++counters_.messages;
    HandleEnvelope(message.peer, message.envelope);
  }
  if (halted()) return halt_;
  ServeArtifactReads();
  RunPostedTasks();
  const scheduler::TimeMs now = clock_.NowMs();
  if (now - last_tick_ms_ >= options_.tick_interval_ms || now < last_tick_ms_) {
    last_tick_ms_ = now;
    scheduler_->Tick();
    // Uploads of leases that ended (expired, agent lost) will never be committed; those
    // of accepted results still wait for this iteration's commit.
    uploads_.DropUnless([this](const std::string& peer, scheduler::LeaseRef lease) {
      return HoldsLease(peer, lease) || HasPendingResult(peer, lease);
    });
  } else if (!inbound->empty()) {
    scheduler_->Schedule();  // freed slots are filled without waiting for the tick
  }
  ProcessDecisions();
  RunCoordinatorJobs();  // after the commit above: a render's faces artifact is stored
  if (halted()) return halt_;
  if (now - last_heartbeat_ms_ >= options_.scheduler.heartbeat_interval_ms ||
      now < last_heartbeat_ms_) {
    last_heartbeat_ms_ = now;
    SendHeartbeats();
    SyncAgentStates();
    if (halted()) return halt_;
    // The link drops undecodable and oversized frames unseen: report them, once per beat.
    const std::uint64_t dropped = link_.stats().dropped_malformed;
    if (dropped > logged_dropped_frames_) {
      spdlog::warn("agent link: dropped {} malformed or oversized frames",
                   dropped - logged_dropped_frames_);
      logged_dropped_frames_ = dropped;
    }
  }
  return Status::Ok();
}

Status CoordinatorImpl::Run(const std::atomic<bool>& stop) {
  int failures_in_a_row = 0;
  while (!stop.load()) {
    Status status = RunOnce();
    if (status.ok()) {
      failures_in_a_row = 0;
      continue;
    }
    // Fail-stop: nothing more runs, posted tasks included (they could write to the store).
    if (halted()) return halt_;
    if (stop.load()) break;  // e.g. the signal that asked us to stop interrupted Receive
    // A link error may be transient (EINTR, a hiccup): back off, give up only when it
    // persists, so that farmd does not spin or die on one bad call.
    if (++failures_in_a_row >= kMaxLinkFailures) {
      RunPostedTasks();
      return status;
    }
    spdlog::warn("agent link: {} (retrying)", status.ToString());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  RunPostedTasks();  // nobody waits forever on a posted task
  return Status::Ok();
}

void CoordinatorImpl::Post(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(tasks_mutex_);
  tasks_.push_back(std::move(task));
}

void CoordinatorImpl::RunPostedTasks() {
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(tasks_mutex_);
    tasks.swap(tasks_);
  }
  for (auto& task : tasks) task();
}

void CoordinatorImpl::HandleEnvelope(const std::string& peer, const v1::Envelope& envelope) {
  switch (envelope.body_case()) {
    case v1::Envelope::kRegister:
      HandleRegister(peer, envelope.register_());
      return;
    case v1::Envelope::kHeartbeat:
      HandleHeartbeat(peer, envelope.heartbeat());
      return;
    case v1::Envelope::kProgress:
      HandleProgress(peer, envelope.progress());
      return;
    case v1::Envelope::kArtifactChunk:
      HandleChunk(peer, envelope.artifact_chunk());
      return;
    case v1::Envelope::kJobResult:
      HandleResult(peer, envelope.job_result());
      return;
    case v1::Envelope::kJobResultBatch:
      HandleResultBatch(peer, envelope.job_result_batch());
      return;
    case v1::Envelope::kArtifactResolve:
      HandleArtifactResolve(peer, envelope.artifact_resolve());
      return;
    case v1::Envelope::kArtifactRead:
      HandleArtifactRead(peer, envelope.artifact_read());
      return;
    case v1::Envelope::kError:
      spdlog::warn("agent={} reported error {}: {}", peer,
                   v1::ErrorCode_Name(envelope.error().code()), envelope.error().message());
      return;
    default:
      SendError(peer, v1::ERROR_CODE_MALFORMED,
                "farmd does not accept this message (body case " +
                    std::to_string(static_cast<int>(envelope.body_case())) + ")");
  }
}

bool CoordinatorImpl::HasPendingResult(const std::string& peer, scheduler::LeaseRef lease) const {
  for (const PendingResult& r : pending_results_) {
    if (r.peer == peer && r.lease == lease) return true;
  }
  return false;
}

bool CoordinatorImpl::HoldsLease(const std::string& peer, scheduler::LeaseRef lease) const {
  return scheduler_->HoldsLease(peer, lease);
}

Status CoordinatorImpl::Send(const std::string& peer, v1::Envelope envelope) {
  envelope.set_sequence(++sequence_);
  Status status = link_.Send(peer, envelope);
  if (!status.ok()) ++counters_.send_failures;
  return status;
}

void CoordinatorImpl::SendError(const std::string& peer, v1::ErrorCode code,
                                const std::string& message) {
  ++counters_.bad_messages;
  spdlog::warn("agent={} {}: {}", peer, v1::ErrorCode_Name(code), message);
  v1::Envelope envelope;
  envelope.mutable_error()->set_code(code);
  envelope.mutable_error()->set_message(message);
  (void)Send(peer, std::move(envelope));  // an unreachable agent re-registers anyway
}

bool IsStoreFailure(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:  // I/O error, disk full, file-size limit, lock held
    case StatusCode::kDataLoss:     // corrupt or truncated database
    case StatusCode::kInternal:     // an artifact file not written, or a store bug
      return true;
    default:  // this one row was refused (constraint, stale lease): the others go on
      return false;
  }
}

void CoordinatorImpl::StoreError(const Status& status, const std::string& what) {
  ++counters_.store_errors;
  if (IsStoreFailure(status)) return Halt(status, what);
  spdlog::error("store: {}: {}", what, status.ToString());
}

void CoordinatorImpl::Halt(const Status& status, const std::string& what) {
  if (halted()) {
    spdlog::error("store: {}: {} (already stopping)", what, status.ToString());
    return;
  }
  spdlog::critical(
      "store failed: {}: {}; farmd stops now: nothing of this batch is acknowledged or "
      "offered, agents keep their results for the next farmd",
      what, status.ToString());
  halt_ = Status(status.code() == StatusCode::kOk ? StatusCode::kInternal : status.code(),
                 "store failed: " + what + ": " + status.message());
}

// ---- Coordinator ---------------------------------------------------------------------------

StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(CoordinatorOptions options,
                                                           store::Store& store,
                                                           transport::AgentLink& link,
                                                           const scheduler::Clock& clock) {
  auto impl = std::make_unique<CoordinatorImpl>(std::move(options), store, link, clock);
  FARM_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Coordinator>(new Coordinator(std::move(impl)));
}

Coordinator::Coordinator(std::unique_ptr<CoordinatorImpl> impl) : impl_(std::move(impl)) {}
Coordinator::~Coordinator() = default;

Status Coordinator::RunOnce() { return impl_->RunOnce(); }
Status Coordinator::Run(const std::atomic<bool>& stop) { return impl_->Run(stop); }
void Coordinator::Post(std::function<void()> task) { impl_->Post(std::move(task)); }

StatusOr<SubmitResult> Coordinator::SubmitSweep(std::string_view yaml, std::string_view file_name,
                                                const sweep::SpecPresets& presets,
                                                sweep::SpecResolver& resolver,
                                                const SubmitOptions& options) {
  return impl_->SubmitSweep(yaml, file_name, presets, resolver, options);
}

Status Coordinator::CancelSweep(std::int64_t sweep_id, std::string_view reason) {
  Status status = impl_->scheduler_->CancelSweep(sweep_id, reason);
  // Unknown to the scheduler: it does not exist, or every job finished before a restart.
  if (status.code() == StatusCode::kNotFound) status = impl_->store_.GetSweep(sweep_id).status();
  FARM_RETURN_IF_ERROR(status);
  FARM_ASSIGN_OR_RETURN(store::Sweep sweep, impl_->store_.GetSweep(sweep_id));
  if (sweep.state == store::SweepState::kQueued || sweep.state == store::SweepState::kRunning ||
      sweep.state == store::SweepState::kPaused) {
    FARM_RETURN_IF_ERROR(impl_->store_.SetSweepState(sweep_id, store::SweepState::kCancelled));
  }
  return Status::Ok();
}

Status Coordinator::CancelJob(std::int64_t job_id, std::string_view reason) {
  Status status = impl_->scheduler_->CancelJob(job_id, reason);
  if (status.code() == StatusCode::kNotFound) return impl_->store_.GetJob(job_id).status();
  return status;
}

Status Coordinator::SetSweepPriority(std::int64_t sweep_id, int priority) {
  FARM_RETURN_IF_ERROR(impl_->store_.SetSweepPriority(sweep_id, priority));
  Status status = impl_->scheduler_->SetSweepPriority(sweep_id, priority);
  // Unknown to the scheduler: every job finished before a restart; the row is enough.
  if (status.code() == StatusCode::kNotFound) return Status::Ok();
  return status;
}

std::string Coordinator::MetricsText() const { return impl_->MetricsText(); }
scheduler::Scheduler& Coordinator::scheduler() { return *impl_->scheduler_; }

std::vector<JobProgress> Coordinator::RunningProgress(std::int64_t sweep_id) {
  std::vector<JobProgress> out;
  for (const auto& [job_id, progress] : impl_->last_progress_) {
    auto job = impl_->scheduler_->GetJob(job_id);
    if (job.ok() && job->spec.sweep_id == sweep_id && job->state == scheduler::JobState::kLeased) {
      out.push_back(progress);
    }
  }
  return out;
}
store::Store& Coordinator::store() { return impl_->store_; }
const LoopCounters& Coordinator::counters() const { return impl_->counters_; }
const std::string& Coordinator::session_id() const { return impl_->session_id_; }
const std::string& Coordinator::artifact_root() const { return impl_->options_.artifact_root; }

}  // namespace farm::farmd
