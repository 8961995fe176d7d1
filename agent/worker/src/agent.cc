#include "farm/agent/agent.h"

#include <algorithm>

#include "connection.h"
#include "job_slots.h"
#include "line_log.h"
#include "result_outbox.h"

namespace farm::agent {
namespace v1 = studiofarm::v1;
using std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;

namespace {

// Log lines carry the agent id and, where there is one, the lease, so they join up with
// farmd's logs.
void Log(const std::string& agent_id, const std::string& text) {
  LineLog::Instance().Add(agent_id, text);
}

std::string LeaseText(const LeaseKey& lease) {
  return "job=" + std::to_string(lease.job_id) + " attempt=" + std::to_string(lease.attempt);
}

LeaseKey KeyOf(const v1::LeaseRef& ref) { return {ref.job_id(), ref.attempt()}; }

}  // namespace

class Agent::Impl {
 public:
  Impl(AgentOptions options, const RunnerRegistry* runners, std::optional<CurveKeyPair> keys)
      : options_(std::move(options)),
        runners_(runners),
        keys_(std::move(keys)),
        slots_(options_.slots, options_.prefetch),
        interval_(options_.heartbeat_interval),
        liveness_(options_.heartbeat_liveness),
        backoff_(options_.reconnect_initial) {}

  Status Run(const std::atomic<bool>& stop);

 private:
  TimePoint Now() const { return options_.now(); }
  milliseconds SilenceLimit() const { return interval_ * liveness_; }
  void Connect(TimePoint now);
  void Disconnect(TimePoint now, const std::string& why);
  Status Send(v1::Envelope& envelope);
  void SendRegister();
  void SendHeartbeat(TimePoint now);
  void FlushResults();
  void ReceiveAll(TimePoint now);
  void Handle(const v1::Envelope& envelope, TimePoint now);
  void HandleOffer(const v1::JobOffer& offer);  // the caller flushes the refusals
  void Refuse(const LeaseKey& lease, v1::ResultStatus status, std::string error, bool busy = false);
  // Every lease it holds: running, or finished with the result not yet acknowledged.
  std::vector<LeaseKey> HeldLeases() const;
  void HandleSlotEvents();
  void FlushFetches();               // the runners' download requests, while registered
  bool ShutdownStep(TimePoint now);  // true when Run may return

  AgentOptions options_;
  const RunnerRegistry* runners_;
  std::optional<CurveKeyPair> keys_;
  ConnectionContext context_;
  std::unique_ptr<Connection> connection_;  // null while waiting to reconnect
  JobSlots slots_;
  ResultOutbox outbox_;

  milliseconds interval_;
  uint32_t liveness_;
  milliseconds backoff_;
  bool registered_ = false;
  // The farmd of this session takes result batches with inline artifacts (Welcome.batches).
  bool farmd_batches_ = false;
  uint64_t sequence_ = 0;
  // Envelope.sequence of the latest message from farmd on this connection (0: none yet);
  // heartbeats carry it so that farmd can tell a lost offer from one still on its way.
  uint64_t received_sequence_ = 0;
  TimePoint next_connect_{};
  TimePoint last_heard_{};
  TimePoint next_heartbeat_{};
  TimePoint register_sent_{};
  Status fatal_;

  bool draining_ = false;
  bool released_all_ = false;
  TimePoint drain_deadline_{};
  std::optional<TimePoint> ack_deadline_;
};

void Agent::Impl::Connect(TimePoint now) {
  StatusOr<std::unique_ptr<Connection>> opened = Connection::Open(context_, options_, keys_);
  if (!opened.ok()) {
    Log(options_.agent_id, opened.status().ToString());
    next_connect_ = now + backoff_;
    backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
    return;
  }
  connection_ = std::move(opened).value();
  registered_ = false;
  farmd_batches_ = false;  // until this session's Welcome says
  received_sequence_ = 0;
  last_heard_ = now;
  SendRegister();
}

void Agent::Impl::Disconnect(TimePoint now, const std::string& why) {
  Log(options_.agent_id, why + "; reconnecting in " + std::to_string(backoff_.count()) + " ms");
  connection_.reset();
  registered_ = false;
  next_connect_ = now + backoff_;
  backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
}

Status Agent::Impl::Send(v1::Envelope& envelope) {
  if (connection_ == nullptr) return Unavailable("not connected");
  envelope.set_sequence(++sequence_);
  return connection_->Send(envelope);
}

void Agent::Impl::SendRegister() {
  v1::Envelope envelope;
  v1::Register* reg = envelope.mutable_register_();
  reg->set_agent_id(options_.agent_id);
  reg->set_agent_version(FARM_AGENT_VERSION);
  reg->set_protocol_version(kProtocolVersion);
  reg->set_batches(true);
  reg->set_hostname(options_.hostname);
  v1::Capabilities* caps = reg->mutable_capabilities();
  caps->set_device_kind(options_.device_kind);
  caps->set_device_name(options_.device_name);
  caps->set_device_memory_bytes(options_.device_memory_bytes);
  caps->set_cpu_cores(options_.cpu_cores);
  caps->set_slots(options_.slots);
  caps->set_prefetch(options_.prefetch);
  // What the runners hold now (after a reconnect, engines loaded before it still count).
  std::vector<std::string> held = runners_->held_models();
  held.insert(held.end(), options_.cached_model_sha256.begin(), options_.cached_model_sha256.end());
  std::sort(held.begin(), held.end());
  held.erase(std::unique(held.begin(), held.end()), held.end());
  for (const std::string& sha : held) caps->add_cached_model_sha256(sha);
  for (v1::JobKind kind : runners_->kinds()) caps->add_job_kinds(kind);
  // A reconnect without a restart: farmd keeps the leases listed here that are still this
  // agent's, so nothing running is requeued (set, even empty, so farmd knows it is a list).
  v1::HeldLeases* held_leases = reg->mutable_held_leases();
  for (const LeaseKey& lease : HeldLeases()) {
    v1::LeaseRef* ref = held_leases->add_leases();
    ref->set_job_id(lease.job_id);
    ref->set_attempt(lease.attempt);
  }
  register_sent_ = Now();
  Status sent = Send(envelope);
  if (!sent.ok()) Log(options_.agent_id, "register: " + sent.ToString());
}

void Agent::Impl::SendHeartbeat(TimePoint now) {
  next_heartbeat_ = now + interval_;
  v1::Envelope envelope;
  v1::Heartbeat* beat = envelope.mutable_heartbeat();
  beat->set_sent_unix_ms(options_.unix_now_ms ? options_.unix_now_ms() : 0);
  // Every lease held, as of having handled farmd's messages up to received_sequence_:
  // farmd requeues a lease offered before that which is not listed (a lost offer).
  beat->set_received_sequence(received_sequence_);
  for (const LeaseKey& lease : HeldLeases()) {
    v1::LeaseRef* ref = beat->add_active_leases();
    ref->set_job_id(lease.job_id);
    ref->set_attempt(lease.attempt);
  }
  (void)Send(envelope);  // a lost beat is covered by the next one
}

void Agent::Impl::FlushResults() {
  if (connection_ == nullptr || !registered_) return;
  auto send = [this](v1::Envelope& e) { return Send(e); };
  Status sent = farmd_batches_ ? outbox_.SendUnsentBatched(send) : outbox_.SendUnsent(send);
  // A full queue is retried on the next heartbeat tick, resuming where it stopped.
  if (!sent.ok()) Log(options_.agent_id, "result upload paused: " + sent.ToString());
}

void Agent::Impl::Refuse(const LeaseKey& lease, v1::ResultStatus status, std::string error,
                         bool busy) {
  Log(options_.agent_id, LeaseText(lease) + " refused: " + error);
  PendingResult refusal = BuildRefusal(lease, status, std::move(error));
  // farmd spends no attempt on it and pauses offers to this agent until its heartbeat.
  refusal.result.set_refused_busy(busy);
  outbox_.Add(lease, std::move(refusal));
}

std::vector<LeaseKey> Agent::Impl::HeldLeases() const {
  std::vector<LeaseKey> held = slots_.Active();
  const std::vector<LeaseKey> finished = outbox_.Leases();
  held.insert(held.end(), finished.begin(), finished.end());
  std::sort(held.begin(), held.end());
  held.erase(std::unique(held.begin(), held.end()), held.end());
  return held;
}

void Agent::Impl::HandleOffer(const v1::JobOffer& offer) {
  const LeaseKey lease = KeyOf(offer.lease());
  if (slots_.Contains(lease)) return;  // a duplicate offer of what already runs
  if (outbox_.Contains(lease)) {       // already finished: answer with the kept result
    outbox_.Restart(lease);
  } else if (draining_) {
    Refuse(lease, v1::RESULT_STATUS_RELEASED, "agent " + options_.agent_id + " is shutting down");
  } else if (JobRunner* runner = runners_->Find(offer.kind()); runner == nullptr) {
    Refuse(lease, v1::RESULT_STATUS_FAILED,
           "agent " + options_.agent_id + " has no runner for " + v1::JobKind_Name(offer.kind()));
  } else if (slots_.full() || (offer.gang_size() > 1 && slots_.slots_taken())) {
    // A gang's ranks must start together: one is never queued behind another job.
    Refuse(lease, v1::RESULT_STATUS_RELEASED,
           "all " + std::to_string(options_.slots) + " slots of agent " + options_.agent_id +
               " are busy",
           /*busy=*/true);
  } else {
    JobSpec spec;
    spec.job_id = lease.job_id;
    spec.attempt = lease.attempt;
    spec.kind = offer.kind();
    spec.param_hash = offer.param_hash();
    spec.params_json = offer.params_json();
    spec.gang_rank = offer.gang_rank();
    spec.gang_size = offer.gang_size();
    spec.gang_hosts.assign(offer.gang_hosts().begin(), offer.gang_hosts().end());
    spec.compute_threads = options_.compute_threads;
    Status started = slots_.Start(spec, runner);
    if (!started.ok()) {
      Refuse(lease, v1::RESULT_STATUS_RELEASED, started.message());
    } else {
      Log(options_.agent_id, LeaseText(lease) + " started " + v1::JobKind_Name(offer.kind()));
    }
  }
}

void Agent::Impl::Handle(const v1::Envelope& envelope, TimePoint now) {
  last_heard_ = now;
  // Set before handling: what this message asks (an offer) is done by the time any
  // heartbeat carrying its sequence is built (the Welcome's handler sends one).
  if (envelope.sequence() > 0) received_sequence_ = envelope.sequence();
  switch (envelope.body_case()) {
    case v1::Envelope::kWelcome: {
      const v1::Welcome& welcome = envelope.welcome();
      registered_ = true;
      backoff_ = options_.reconnect_initial;
      if (welcome.heartbeat_interval_ms() > 0) {
        interval_ = milliseconds(welcome.heartbeat_interval_ms());
      }
      if (welcome.heartbeat_liveness() > 0) liveness_ = welcome.heartbeat_liveness();
      farmd_batches_ = welcome.batches();
      Log(options_.agent_id, "registered, session " + welcome.session_id());
      SendHeartbeat(now);
      outbox_.RestartAll();
      FlushResults();
      return;
    }
    case v1::Envelope::kHeartbeat:
      return;
    case v1::Envelope::kJobOffer:
      HandleOffer(envelope.job_offer());
      FlushResults();
      return;
    case v1::Envelope::kJobOfferBatch:
      for (const v1::JobOffer& offer : envelope.job_offer_batch().offers()) HandleOffer(offer);
      FlushResults();
      return;
    case v1::Envelope::kResultAckBatch:
      // As single acks: each result is stored, so the agent forgets it.
      for (const v1::ResultAck& ack : envelope.result_ack_batch().acks()) {
        const LeaseKey lease = KeyOf(ack.lease());
        if (outbox_.Ack(lease)) {
          Log(options_.agent_id, LeaseText(lease) + " result acked (" +
                                     (ack.accepted() ? "accepted" : "not accepted") + ")");
        }
      }
      return;
    case v1::Envelope::kCancel: {
      const LeaseKey lease = KeyOf(envelope.cancel().lease());
      if (slots_.Stop(lease, CancellationToken::Reason::kCancelled)) {
        Log(options_.agent_id, LeaseText(lease) + " cancel: " + envelope.cancel().reason());
      } else if (outbox_.Contains(lease)) {
        outbox_.Restart(lease);  // finished before the cancel arrived: repeat its result
        FlushResults();
      }
      return;
    }
    case v1::Envelope::kResultAck: {
      // farmd acks a result only once it is stored: from here on this agent forgets it.
      const LeaseKey lease = KeyOf(envelope.result_ack().lease());
      if (outbox_.Ack(lease)) {
        Log(options_.agent_id,
            LeaseText(lease) + " result acked (" +
                (envelope.result_ack().accepted() ? "accepted" : "not accepted") + ")");
      }
      return;
    }
    case v1::Envelope::kArtifactInfo:
    case v1::Envelope::kArtifactData:
      if (options_.artifact_fetcher) options_.artifact_fetcher->Deliver(envelope);
      return;
    case v1::Envelope::kError: {
      const v1::Error& error = envelope.error();
      Log(options_.agent_id,
          "farmd error " + v1::ErrorCode_Name(error.code()) + ": " + error.message());
      if (error.code() == v1::ERROR_CODE_PROTOCOL_MISMATCH) {
        fatal_ = FailedPrecondition("farmd refused protocol version " +
                                    std::to_string(kProtocolVersion) + ": " + error.message());
      } else if (error.code() == v1::ERROR_CODE_NOT_REGISTERED) {
        // Every message in flight earns its own error: answer them with one Register, as
        // farmd takes a second one for a restart and requeues this agent's work. Only a
        // Register unanswered for a liveness window is sent again.
        if (registered_ || now - register_sent_ > SilenceLimit()) {
          registered_ = false;
          SendRegister();
        }
      }
      return;
    }
    default:
      Log(options_.agent_id, "ignored a message farmd should not send (body case " +
                                 std::to_string(envelope.body_case()) + ")");
  }
}

void Agent::Impl::ReceiveAll(TimePoint now) {
  while (connection_ != nullptr && fatal_.ok()) {
    StatusOr<std::optional<v1::Envelope>> received = connection_->TryReceive();
    if (!received.ok()) {
      if (received.status().code() == StatusCode::kInvalidArgument) {
        last_heard_ = now;  // the peer is alive, only its message is bad
        Log(options_.agent_id, "dropped a message: " + received.status().message());
        continue;
      }
      Disconnect(now, received.status().ToString());
      return;
    }
    if (!received->has_value()) return;
    Handle(**received, now);
  }
}

void Agent::Impl::HandleSlotEvents() {
  for (SlotEvent& event : slots_.Drain()) {
    if (!event.finished) {
      if (!registered_) continue;  // progress is advisory; the heartbeat lists the lease
      v1::Envelope envelope;
      v1::Progress* progress = envelope.mutable_progress();
      progress->mutable_lease()->set_job_id(event.lease.job_id);
      progress->mutable_lease()->set_attempt(event.lease.attempt);
      progress->set_stage(event.progress.stage);
      progress->set_step(event.progress.step);
      progress->set_total_steps(event.progress.total_steps);
      progress->set_message(event.progress.message);
      (void)Send(envelope);
      continue;
    }
    const LeaseKey lease = event.lease;
    PendingResult result = BuildResult(std::move(event));
    for (const std::string& sha : runners_->held_models()) {
      result.result.mutable_held_models()->add_sha256(sha);
    }
    Log(options_.agent_id, LeaseText(lease) + " ended " +
                               v1::ResultStatus_Name(result.result.status()) +
                               (result.result.error().empty() ? "" : ": " + result.result.error()));
    outbox_.Add(lease, std::move(result));
  }
  FlushResults();
}

void Agent::Impl::FlushFetches() {
  if (!options_.artifact_fetcher || connection_ == nullptr || !registered_) return;
  for (v1::Envelope& request : options_.artifact_fetcher->TakeOutgoing()) {
    // A request the queue refuses is sent again by the fetcher after its timeout.
    (void)Send(request);
  }
}

bool Agent::Impl::ShutdownStep(TimePoint now) {
  if (!draining_) {
    draining_ = true;
    drain_deadline_ = now + options_.shutdown_grace;
    Log(options_.agent_id, "shutting down: " + std::to_string(slots_.running()) +
                               " job(s) running, grace " +
                               std::to_string(options_.shutdown_grace.count()) + " ms");
  }
  if (slots_.running() > 0) {
    if (now >= drain_deadline_ && !released_all_) {
      released_all_ = true;
      slots_.StopAll(CancellationToken::Reason::kReleased);
    }
    return false;
  }
  if (!ack_deadline_.has_value()) ack_deadline_ = now + options_.shutdown_ack_wait;
  return outbox_.empty() || now >= *ack_deadline_;
}

Status Agent::Impl::Run(const std::atomic<bool>& stop) {
  next_connect_ = Now();
  if (options_.artifact_fetcher) options_.artifact_fetcher->Attach([this] { slots_.Wake(); });
  while (fatal_.ok()) {
    TimePoint now = Now();
    if (stop.load() && ShutdownStep(now)) break;
    if (connection_ == nullptr && now >= next_connect_) Connect(now);
    if (connection_ != nullptr && now - last_heard_ > SilenceLimit()) {
      Disconnect(now, "farmd silent for " + std::to_string(SilenceLimit().count()) + " ms");
    }
    if (connection_ != nullptr && registered_ && now >= next_heartbeat_) {
      SendHeartbeat(now);
      // farmd keeps a lease the heartbeat lists: a result lost on the wire must be sent
      // again, or its lease would never end.
      outbox_.RestartUnacked(2 * static_cast<int>(liveness_));
      FlushResults();
    }

    milliseconds wait = options_.max_poll_wait;
    auto until = [&](TimePoint t) {
      wait = std::clamp(std::chrono::duration_cast<milliseconds>(t - now), milliseconds(0), wait);
    };
    if (connection_ == nullptr) {
      until(next_connect_);
      LineLog::Instance().Flush();
      WaitOnFd(slots_.wake_fd(), wait);
    } else {
      until(last_heard_ + SilenceLimit() + milliseconds(1));
      if (registered_) until(next_heartbeat_);
      LineLog::Instance().Flush();  // before the agent may sleep (cheap when empty)
      StatusOr<Connection::PollResult> polled = connection_->Poll(slots_.wake_fd(), wait);
      if (!polled.ok()) {
        Disconnect(Now(), polled.status().ToString());
      } else if (polled->readable) {
        ReceiveAll(Now());
      }
    }
    HandleSlotEvents();
    FlushFetches();
  }
  if (!fatal_.ok()) slots_.StopAll(CancellationToken::Reason::kReleased);
  // Job threads still waiting on farmd fail now instead of at their timeout.
  if (options_.artifact_fetcher) options_.artifact_fetcher->Detach();
  LineLog::Instance().Flush();
  return fatal_;
}

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() = default;

StatusOr<std::unique_ptr<Agent>> Agent::Create(AgentOptions options,
                                               const RunnerRegistry* runners) {
  if (runners == nullptr) return InvalidArgument("agent: no runner registry");
  if (options.endpoint.empty()) return InvalidArgument("agent: --connect endpoint is required");
  if (options.agent_id.empty() || options.agent_id.size() > 255) {
    return InvalidArgument("agent: the id must be 1 to 255 bytes");
  }
  if (options.slots == 0) return InvalidArgument("agent: --slots must be at least 1");
  if (options.prefetch > 1024) return InvalidArgument("agent: --prefetch must be at most 1024");
  if (options.heartbeat_interval.count() <= 0 || options.heartbeat_liveness == 0) {
    return InvalidArgument("agent: heartbeat interval and liveness must be positive");
  }
  if (options.reconnect_initial.count() <= 0 || options.reconnect_max < options.reconnect_initial) {
    return InvalidArgument("agent: reconnect back-off needs 0 < initial <= max");
  }
  std::optional<CurveKeyPair> keys = options.client_keys;
  if (options.server_public_key.has_value()) {
    FARM_RETURN_IF_ERROR(ValidateZ85Key(*options.server_public_key).WithContext("server key"));
    if (keys.has_value()) {
      FARM_RETURN_IF_ERROR(ValidateZ85Key(keys->public_key).WithContext("agent public key"));
      FARM_RETURN_IF_ERROR(ValidateZ85Key(keys->secret_key).WithContext("agent secret key"));
    } else {
      FARM_ASSIGN_OR_RETURN(keys, GenerateCurveKeyPair());
    }
  }
  return std::unique_ptr<Agent>(
      new Agent(std::make_unique<Impl>(std::move(options), runners, std::move(keys))));
}

Status Agent::Run(const std::atomic<bool>& stop) { return impl_->Run(stop); }

}  // namespace farm::agent
