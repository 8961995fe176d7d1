// Runners download artifacts from farmd through this client (farm.proto "Artifact
// fetch"): Resolve names a job's output ("lora@1600" of the train job with param_hash H),
// Fetch brings an artifact by SHA-256 into the agent's ArtifactCache and returns its path.
// A cached, verified file is used without asking farmd; concurrent fetches of one
// artifact download it once.
//
// Threading: runners call Resolve/Fetch on their job threads; they block (polling their
// CancellationToken) until farmd answers. The agent's socket thread owns the socket: it
// Attach()es a wake-up, sends what TakeOutgoing() returns while registered, and hands
// every ArtifactInfo/ArtifactData to Deliver(). All methods are thread-safe.
//
// Flow: a download keeps up to `window` reads of at most `chunk_bytes` in flight and writes
// the answers in order to a temp file, hashing as it goes. An unanswered request is sent
// again after request_timeout (farmd keeps no transfer state, so this is always safe), at
// most max_attempts times; BUSY answers are retried after busy_backoff until deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "farm.pb.h"
#include "farm/agent/artifact_cache.h"
#include "farm/agent/job_runner.h"
#include "farm/schemas/status.h"

namespace farm::agent {

struct ArtifactFetcherOptions {
  // Artifacts live in <cache_dir>/artifacts/<sha256>. Required.
  std::string cache_dir;
  std::uint32_t window = 4;                       // reads in flight per download
  std::uint32_t chunk_bytes = 1u << 20;           // per read; at most 1 MiB (farmd's limit)
  std::chrono::milliseconds request_timeout{10000};
  int max_attempts = 5;                           // sends of one request before giving up
  std::chrono::milliseconds busy_backoff{100};
  std::chrono::milliseconds deadline{std::chrono::hours(1)};  // one whole Resolve or Fetch
  std::uint64_t max_artifact_bytes = 64ull << 30;
};

struct FetchedArtifact {
  std::string sha256;
  std::uint64_t size = 0;
  std::string path;        // the verified file in the cache
  bool from_cache = false; // no byte was downloaded
};

struct FetcherStats {
  std::uint64_t downloads = 0;        // artifacts downloaded completely
  std::uint64_t cache_hits = 0;       // fetches served from the cache
  std::uint64_t damaged_in_cache = 0; // cached files that failed their hash (refetched)
  std::uint64_t bytes_downloaded = 0;
  std::uint64_t resends = 0;          // requests sent again after a timeout or BUSY
};

class ArtifactFetcher {
 public:
  static StatusOr<std::shared_ptr<ArtifactFetcher>> Create(ArtifactFetcherOptions options);
  ~ArtifactFetcher();

  // ---- job threads ----
  // The descriptor of output `name` of the newest succeeded job with `producer_param_hash`
  // (remembered: outputs of a succeeded job never change). NotFound: no such job or
  // output, or the job failed; Unavailable: not finished yet, or farmd did not answer.
  // For every call: FailedPrecondition when no socket thread is attached, InvalidArgument
  // for malformed arguments, Unavailable once `cancel` asks to stop (check the token).
  StatusOr<studiofarm::v1::ArtifactDescriptor> Resolve(const std::string& producer_param_hash,
                                                       const std::string& name,
                                                       const CancellationToken* cancel = nullptr);
  // The artifact's verified file, downloaded when not cached. NotFound: farmd has no such
  // artifact; DataLoss: farmd's bytes do not hash to the name; Unavailable: farmd did not
  // answer or cannot read its file; TimedOut past options.deadline.
  StatusOr<FetchedArtifact> Fetch(const std::string& sha256,
                                  const CancellationToken* cancel = nullptr);
  // Resolve then Fetch (checking the resolved size).
  StatusOr<FetchedArtifact> FetchNamed(const std::string& producer_param_hash,
                                       const std::string& name,
                                       const CancellationToken* cancel = nullptr);

  // A folder bundle (folder_bundle.h: a prepare job's dataset) by SHA-256: fetched like
  // any artifact, unpacked once into <cache_dir>/folders/<sha256> and that folder returned.
  // A folder there exists only complete (renamed into place after unpacking the verified
  // archive). DataLoss for an archive that is not a safe ustar bundle.
  StatusOr<std::string> FetchFolder(const std::string& sha256,
                                    const CancellationToken* cancel = nullptr);

  // ---- the agent's socket thread ----
  // `wake` is called (from job threads) when requests wait in TakeOutgoing.
  void Attach(std::function<void()> wake);
  // Requests waiting and in flight fail at once with Unavailable; later calls fail with
  // FailedPrecondition until the next Attach.
  void Detach();
  std::vector<studiofarm::v1::Envelope> TakeOutgoing();
  // Whether a socket thread is attached now.
  bool attached() const;
  // Takes an ArtifactInfo or ArtifactData answer; false for other messages. Answers to
  // requests nobody waits for any more (timed out, sent twice) are dropped.
  bool Deliver(const studiofarm::v1::Envelope& envelope);

  FetcherStats stats() const;
  ArtifactCache& cache() { return *cache_; }

 private:
  explicit ArtifactFetcher(ArtifactFetcherOptions options, std::unique_ptr<ArtifactCache> cache);
  class Download;
  friend class Download;

  // Queues `envelope` (its request id set here) and returns the id. Lock held by caller.
  std::uint64_t QueueLocked(studiofarm::v1::Envelope envelope);
  // Waits until an answer for one of `ids` arrives, `until` passes, or `cancel` asks to stop.
  // Returns the answer (removed from the mailbox) or nullopt. Lock held.
  std::optional<studiofarm::v1::Envelope> WaitLocked(std::unique_lock<std::mutex>& lock,
                                                     const std::set<std::uint64_t>& ids,
                                                     std::chrono::steady_clock::time_point until,
                                                     const CancellationToken* cancel);
  StatusOr<FetchedArtifact> Download(const std::string& sha256, const CancellationToken* cancel);

  const ArtifactFetcherOptions options_;
  std::unique_ptr<ArtifactCache> cache_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> wake_;                                  // set while attached
  std::uint64_t attach_epoch_ = 0;                              // bumped by Detach
  std::uint64_t next_request_ = 1;
  std::vector<studiofarm::v1::Envelope> outgoing_;
  std::map<std::uint64_t, std::optional<studiofarm::v1::Envelope>> mailbox_;  // id -> answer
  std::set<std::string> downloading_;                           // sha256 being fetched
  std::map<std::pair<std::string, std::string>, studiofarm::v1::ArtifactDescriptor> resolved_;
  FetcherStats stats_;
};

}  // namespace farm::agent
