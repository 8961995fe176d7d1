// Artifact uploads in progress: chunks are hashed incrementally and kept in memory up to
// kUploadSpillBytes, beyond that streamed into a temp file under <root>/tmp; a finished
// upload is verified against its descriptor and moved (or written) into content-addressed
// storage <root>/ab/cd/<sha256>. Small results thus cost no file at all when their digest
// is already stored, and one file write otherwise.
//
// Safety: no path or file name from a message is ever used; temp names are counters and
// the final name is the verified digest. Every upload is bounded (max bytes, chunks in
// order, max uploads per lease). Loop thread only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "farm.pb.h"
#include "farm/scheduler/types.h"
#include "farm/schemas/sha256.h"
#include "farm/schemas/status.h"

namespace farm::farmd {

// True for 64 lower-case hex digits.
bool IsSha256Hex(const std::string& text);

// "ab/cd/<sha256>": where a verified artifact lives, relative to the root.
std::string ContentPath(const std::string& sha256);

// Uploads up to this size stay in memory until Commit.
inline constexpr std::uint64_t kUploadSpillBytes = 1u << 20;

class ArtifactUploads {
 public:
  ArtifactUploads(std::filesystem::path root, std::uint64_t max_bytes, std::size_t max_per_lease);
  ~ArtifactUploads();

  // Creates the root and tmp folders and deletes uploads left by an earlier run.
  Status Prepare();

  // Appends one chunk from `peer` for `lease`. InvalidArgument: bad digest, offset out of
  // order, past max_bytes, too many uploads, chunk after the last one. DataLoss: the
  // last chunk completed a file whose SHA-256 differs (the upload is discarded).
  // Internal: the temp file could not be written. Any error discards the upload.
  Status AddChunk(const std::string& peer, scheduler::LeaseRef lease,
                  const studiofarm::v1::ArtifactChunk& chunk);

  // Checks that every descriptor has a complete upload from `peer` for `lease` with the
  // declared size and digest. InvalidArgument / DataLoss name the first mismatch.
  Status Verify(const std::string& peer, scheduler::LeaseRef lease,
                const google::protobuf::RepeatedPtrField<studiofarm::v1::ArtifactDescriptor>&
                    descriptors) const;

  // Moves a verified upload into content-addressed storage (an existing file with that
  // digest is kept) and returns its path relative to the root.
  StatusOr<std::string> Commit(const std::string& peer, scheduler::LeaseRef lease,
                               const std::string& sha256);

  // Discards every upload of the lease (result handled or lease gone).
  void Drop(const std::string& peer, scheduler::LeaseRef lease);
  // Discards uploads whose lease `keep` rejects.
  void DropUnless(
      const std::function<bool(const std::string& peer, scheduler::LeaseRef lease)>& keep);

  std::size_t open_uploads() const { return uploads_.size(); }
  const std::filesystem::path& root() const { return root_; }

 private:
  struct Upload {
    std::string buffer;                  // the bytes, until they pass kUploadSpillBytes
    std::filesystem::path temp;          // then this file; empty until created
    std::unique_ptr<std::ofstream> out;
    std::unique_ptr<Sha256> hash;
    std::uint64_t size = 0;
    bool complete = false;  // last chunk seen and digest verified
  };
  using Key = std::tuple<std::string, scheduler::JobId, int, std::string>;

  void Discard(std::map<Key, Upload>::iterator it);
  // Moves the buffered bytes into a new temp file (out and temp set).
  Status Spill(Upload& upload);
  std::size_t CountForLease(const std::string& peer, scheduler::LeaseRef lease) const;

  std::filesystem::path root_;
  std::uint64_t max_bytes_;
  std::size_t max_per_lease_;
  std::uint64_t next_temp_ = 0;
  std::map<Key, Upload> uploads_;
};

}  // namespace farm::farmd
