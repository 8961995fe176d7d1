// The agent's on-disk cache of artifacts fetched from farmd: <dir>/<sha256>, one file per
// artifact, named by the SHA-256 of its bytes, so an artifact (a trained LoRA, a prepared
// dataset) is downloaded once per agent and shared by its jobs (and by other agents given
// the same folder).
//
// A file reaches its name only by rename after its bytes were written and hashed to that
// name (<dir>/tmp/<sha256>.<unique>.part before), so a crash never leaves a partial file
// under a final name. A file is hashed again the first time this process uses it and
// whenever its size, mtime, ctime or inode changed since; one whose bytes no longer hash
// to its name is deleted and reported missing, so the caller fetches it again.
//
// Thread-safe: any number of job threads may look up and write at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "farm/schemas/sha256.h"
#include "farm/schemas/status.h"

namespace farm::agent {

class ArtifactCache {
 public:
  // Creates <dir> and <dir>/tmp. Internal naming the folder when it cannot.
  static StatusOr<std::unique_ptr<ArtifactCache>> Open(std::string dir);

  const std::string& dir() const { return dir_; }
  std::string PathFor(const std::string& sha256) const;

  // The verified file holding `sha256`: NotFound when absent or when it was damaged (then
  // it is deleted and `*damaged` set). InvalidArgument for a malformed digest.
  StatusOr<std::string> Lookup(const std::string& sha256, bool* damaged = nullptr);

  // Writes one artifact: Append its bytes in order, then Finish checks the size and
  // digest and renames it into place. Destroying an unfinished writer deletes its temp file.
  class Writer {
   public:
    ~Writer();
    Status Append(std::string_view bytes);
    // The final path. DataLoss when the bytes do not match the expected size or digest.
    StatusOr<std::string> Finish();
    std::uint64_t written() const { return written_; }

   private:
    friend class ArtifactCache;
    Writer(ArtifactCache* cache, std::string sha256, std::uint64_t size, std::string temp, int fd);
    ArtifactCache* cache_;
    std::string sha256_;
    std::uint64_t size_;
    std::string temp_;
    int fd_;
    std::uint64_t written_ = 0;
    Sha256 hash_;
    bool done_ = false;
  };
  // Internal when the temp file cannot be created.
  StatusOr<std::unique_ptr<Writer>> Begin(const std::string& sha256, std::uint64_t size);

 private:
  struct Stamp {
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    std::uint64_t inode = 0;
    bool operator==(const Stamp&) const = default;
  };
  explicit ArtifactCache(std::string dir) : dir_(std::move(dir)) {}
  void Remember(const std::string& sha256, const std::string& path);

  std::string dir_;
  std::mutex mu_;
  std::map<std::string, Stamp> verified_;  // guarded by mu_
  std::uint64_t next_temp_ = 0;            // guarded by mu_
};

// True for 64 lower-case hex digits.
bool IsLowerSha256Hex(std::string_view text);

}  // namespace farm::agent
