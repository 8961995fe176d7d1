// Runs jobs on up to a fixed number of slots, and hands their progress and outcomes back
// to the socket thread. Each slot's thread is started with its first job and kept for the
// next ones (a thread per job cost more than a short job itself).
//
// Threading: every method is called from the socket thread only; job threads touch only
// the job and event queues (mutex-guarded) and the wake fd. The destructor releases every
// job still running and joins the threads.
#pragma once

#include <chrono>
#include <compare>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "farm/agent/job_runner.h"

namespace farm::agent {

struct LeaseKey {
  uint64_t job_id = 0;
  uint32_t attempt = 0;
  auto operator<=>(const LeaseKey&) const = default;
};

struct SlotEvent {
  LeaseKey lease;
  bool finished = false;  // false: a progress update
  ProgressUpdate progress;
  JobOutcome outcome;
  // SHA-256 of each outcome artifact, computed on the job thread so that hashing a large
  // artifact never stalls the socket thread's heartbeats.
  std::vector<std::string> artifact_sha256;
  CancellationToken::Reason stop_reason = CancellationToken::Reason::kNone;
  std::chrono::milliseconds run_time{0};
};

class JobSlots {
 public:
  // `capacity` jobs run at once; up to `prefetch` more wait for a slot, in order.
  explicit JobSlots(uint32_t capacity, uint32_t prefetch = 0);
  ~JobSlots();
  JobSlots(const JobSlots&) = delete;
  JobSlots& operator=(const JobSlots&) = delete;

  // Readable when events are waiting; poll it next to the socket.
  int wake_fd() const { return wake_fd_; }
  // Makes wake_fd() readable (thread-safe), e.g. when a job thread queued a download.
  void Wake();

  // Every slot and every queue place taken.
  bool full() const { return running_.size() >= capacity_ + prefetch_; }
  // A job started now would wait for a slot.
  bool slots_taken() const { return running_.size() >= capacity_; }
  // Jobs held: running or waiting for a slot.
  std::size_t running() const { return running_.size(); }
  bool Contains(const LeaseKey& lease) const { return running_.count(lease) != 0; }
  std::vector<LeaseKey> Active() const;

  // Starts `runner` on a slot's thread, or queues it behind the running jobs when every
  // slot is busy. FailedPrecondition when the queue is full too or the lease already runs.
  // `runner` must outlive the job.
  Status Start(const JobSpec& spec, JobRunner* runner);

  // Asks a job (or all) to stop; false when the lease is not running.
  bool Stop(const LeaseKey& lease, CancellationToken::Reason reason);
  void StopAll(CancellationToken::Reason reason);

  // Takes the waiting events: the latest progress per job, then finished jobs (whose
  // threads are joined and slots freed).
  std::vector<SlotEvent> Drain();

 private:
  struct Running {
    std::shared_ptr<CancellationToken> token;
  };
  struct Queued {
    JobSpec spec;
    JobRunner* runner = nullptr;
    std::shared_ptr<CancellationToken> token;
  };
  void Push(SlotEvent event);
  // mutex_ held, after queueing an event: true when wake_fd_ is to be written (once per
  // drain; the events queued meanwhile ride along).
  bool SignalDueLocked();
  void WorkerLoop();
  SlotEvent RunJob(const Queued& job);
  static SlotEvent NotStarted(const Queued& job);
  template <typename Pred>
  void StopQueued(Pred matches);

  const uint32_t capacity_;
  const uint32_t prefetch_;
  int wake_fd_ = -1;
  std::map<LeaseKey, Running> running_;  // socket thread only
  std::vector<std::thread> workers_;     // socket thread only; at most capacity_

  std::condition_variable queued_cv_;
  std::deque<Queued> queued_;  // guarded by mutex_: started, not yet taken by a worker
  int idle_workers_ = 0;       // guarded by mutex_
  bool closing_ = false;       // guarded by mutex_

  std::mutex mutex_;
  std::map<LeaseKey, ProgressUpdate> progress_;  // guarded by mutex_; coalesced
  std::deque<SlotEvent> finished_;               // guarded by mutex_; at most capacity_
  // guarded by mutex_: wake_fd_ was written since the last Drain (job threads write it
  // once per drain, not once per event).
  bool signalled_ = false;
};

}  // namespace farm::agent
