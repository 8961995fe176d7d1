// Agents download stored artifacts (farm.proto "Artifact fetch"): ArtifactResolve finds a
// job's named output in the store and answers at once; ArtifactRead asks for one range of
// at most kMaxReadBytes of a stored file, queued here and served by Serve() within a byte
// budget per loop iteration, so a burst of downloads never holds the loop on disk for long.
// A full queue answers BUSY (the agent asks again later). No state per transfer.
//
// Safety: only artifacts in the store are served (their uploads were verified and
// committed); the file is the store's relative path under the artifact root, checked to
// stay inside it, opened without following a final symlink, and its size must match the
// stored size. Loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <string>

#include "farm.pb.h"
#include "farm/store/store.h"

namespace farm::farmd {

// The most bytes one ArtifactData carries: the upload chunk size.
inline constexpr std::uint32_t kMaxReadBytes = 1u << 20;

class ArtifactReads {
 public:
  using SendFn = std::function<void(const std::string& peer, studiofarm::v1::Envelope envelope)>;

  ArtifactReads(std::filesystem::path root, std::size_t max_queued, std::uint64_t bytes_per_pass);

  // The descriptor of output `name` of the newest succeeded job with the param_hash;
  // NOT_FOUND / NOT_READY / BAD_REQUEST with a message otherwise.
  studiofarm::v1::ArtifactInfo Resolve(store::Store& store,
                                       const studiofarm::v1::ArtifactResolve& request) const;

  // Queues a read for Serve; false when the queue is full (answer BUSY).
  bool Enqueue(const std::string& peer, const studiofarm::v1::ArtifactRead& read);

  // Answers queued reads in arrival order until bytes_per_pass bytes were read (at least
  // one read per call), each with one ArtifactData through `send`.
  void Serve(store::Store& store, const SendFn& send);

  // The answer to one read (public for tests; Serve uses it).
  studiofarm::v1::ArtifactData Read(store::Store& store,
                                    const studiofarm::v1::ArtifactRead& read) const;

  std::size_t queued() const { return queue_.size(); }
  std::uint64_t bytes_served() const { return bytes_served_; }
  std::uint64_t reads_refused() const { return reads_refused_; }

 private:
  struct Pending {
    std::string peer;
    studiofarm::v1::ArtifactRead read;
  };

  std::filesystem::path root_;
  std::size_t max_queued_;
  std::uint64_t bytes_per_pass_;
  std::deque<Pending> queue_;
  std::uint64_t bytes_served_ = 0;
  std::uint64_t reads_refused_ = 0;  // BUSY answers
};

}  // namespace farm::farmd
