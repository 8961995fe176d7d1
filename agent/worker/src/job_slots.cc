#include "job_slots.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <exception>
#include <system_error>

#include "farm/schemas/sha256.h"

namespace farm::agent {

JobSlots::JobSlots(uint32_t capacity, uint32_t prefetch)
    : capacity_(capacity),
      prefetch_(prefetch),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

JobSlots::~JobSlots() {
  StopAll(CancellationToken::Reason::kReleased);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;  // workers finish the jobs they hold, then leave
  }
  queued_cv_.notify_all();
  for (std::thread& worker : workers_) worker.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

std::vector<LeaseKey> JobSlots::Active() const {
  std::vector<LeaseKey> out;
  for (const auto& [lease, job] : running_) out.push_back(lease);
  return out;
}

Status JobSlots::Start(const JobSpec& spec, JobRunner* runner) {
  const LeaseKey lease{spec.job_id, spec.attempt};
  if (full()) return FailedPrecondition("every slot and queue place is taken");
  if (Contains(lease)) return FailedPrecondition("the lease is already running");
  auto token = std::make_shared<CancellationToken>();
  bool need_worker = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Every running job holds a worker, so a worker is idle for this one or may be added.
    need_worker = idle_workers_ <= static_cast<int>(queued_.size());
  }
  if (need_worker && workers_.size() < capacity_) {
    try {
      workers_.emplace_back([this] { WorkerLoop(); });
    } catch (const std::system_error& e) {
      if (workers_.empty())
        return Unavailable(std::string("cannot start a job thread: ") + e.what());
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queued_.push_back(Queued{spec, runner, token});
  }
  queued_cv_.notify_one();
  running_.emplace(lease, Running{std::move(token)});
  return Status::Ok();
}

void JobSlots::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    ++idle_workers_;
    queued_cv_.wait(lock, [this] { return closing_ || !queued_.empty(); });
    --idle_workers_;
    if (queued_.empty()) return;  // closing
    Queued job = std::move(queued_.front());
    queued_.pop_front();
    lock.unlock();
    SlotEvent event = job.token->stop_requested() ? NotStarted(job) : RunJob(job);
    Push(std::move(event));
    lock.lock();
  }
}

SlotEvent JobSlots::RunJob(const Queued& job) {
  const LeaseKey lease{job.spec.job_id, job.spec.attempt};
  const auto start = std::chrono::steady_clock::now();
  ProgressFn progress = [this, lease](const ProgressUpdate& update) {
    bool signal = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      progress_[lease] = update;
      signal = SignalDueLocked();
    }
    if (signal) Wake();
  };
  SlotEvent event;
  event.lease = lease;
  event.finished = true;
  try {
    event.outcome = job.runner->Run(job.spec, progress, *job.token);
  } catch (const std::exception& e) {  // a runner bug must not take the agent down
    event.outcome = JobOutcome{};
    event.outcome.error = std::string("runner threw: ") + e.what();
  }
  for (const OutputArtifact& artifact : event.outcome.artifacts) {
    event.artifact_sha256.push_back(Sha256Hex(artifact.bytes));
  }
  event.stop_reason = job.token->reason();
  event.run_time = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return event;
}

// A queued job stopped (cancelled, released) before a slot took it: never run.
SlotEvent JobSlots::NotStarted(const Queued& job) {
  SlotEvent event;
  event.lease = LeaseKey{job.spec.job_id, job.spec.attempt};
  event.finished = true;
  event.outcome.status = JobStatus::kCancelled;
  event.outcome.error = "stopped before a slot started it";
  event.stop_reason = job.token->reason();
  return event;
}

bool JobSlots::SignalDueLocked() {
  if (signalled_) return false;
  signalled_ = true;
  return true;
}

void JobSlots::Wake() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
}

void JobSlots::Push(SlotEvent event) {
  bool signal = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_.push_back(std::move(event));
    signal = SignalDueLocked();
  }
  if (signal) Wake();
}

// A stopped job still waiting for a slot ends now, unrun, instead of when a slot frees.
template <typename Pred>
void JobSlots::StopQueued(Pred matches) {
  bool signal = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = queued_.begin(); it != queued_.end();) {
      if (!matches(LeaseKey{it->spec.job_id, it->spec.attempt})) {
        ++it;
        continue;
      }
      finished_.push_back(NotStarted(*it));
      it = queued_.erase(it);
      signal = SignalDueLocked() || signal;
    }
  }
  if (signal) Wake();
}

bool JobSlots::Stop(const LeaseKey& lease, CancellationToken::Reason reason) {
  auto it = running_.find(lease);
  if (it == running_.end()) return false;
  it->second.token->Request(reason);
  StopQueued([&lease](const LeaseKey& queued) { return queued == lease; });
  return true;
}

void JobSlots::StopAll(CancellationToken::Reason reason) {
  for (auto& [lease, job] : running_) job.token->Request(reason);
  StopQueued([](const LeaseKey&) { return true; });
}

std::vector<SlotEvent> JobSlots::Drain() {
  uint64_t ignored = 0;
  (void)!::read(wake_fd_, &ignored, sizeof(ignored));
  std::vector<SlotEvent> events;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    signalled_ = false;  // what is pushed from now on signals again
    for (auto& [lease, update] : progress_) {
      SlotEvent event;
      event.lease = lease;
      event.progress = std::move(update);
      events.push_back(std::move(event));
    }
    progress_.clear();
    while (!finished_.empty()) {
      events.push_back(std::move(finished_.front()));
      finished_.pop_front();
    }
  }
  for (const SlotEvent& event : events) {
    if (event.finished) running_.erase(event.lease);  // its worker waits for the next job
  }
  return events;
}

}  // namespace farm::agent
