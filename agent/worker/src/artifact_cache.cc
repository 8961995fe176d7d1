#include "farm/agent/artifact_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace farm::agent {
namespace fs = std::filesystem;
namespace {

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

bool IsLowerSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

StatusOr<std::unique_ptr<ArtifactCache>> ArtifactCache::Open(std::string dir) {
  if (dir.empty()) return InvalidArgument("artifact cache: no folder given");
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "tmp", ec);
  if (ec) return Internal("cannot create artifact cache folder '" + dir + "/tmp': " + ec.message());
  return std::unique_ptr<ArtifactCache>(new ArtifactCache(std::move(dir)));
}

std::string ArtifactCache::PathFor(const std::string& sha256) const {
  return (fs::path(dir_) / sha256).string();
}

StatusOr<std::string> ArtifactCache::Lookup(const std::string& sha256, bool* damaged) {
  if (damaged != nullptr) *damaged = false;
  if (!IsLowerSha256Hex(sha256)) {
    return InvalidArgument("artifact cache: '" + sha256 + "' is not 64 lower-case hex digits");
  }
  const std::string path = PathFor(sha256);
  struct stat info = {};
  if (::lstat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
    return NotFound("artifact " + sha256 + " is not in the cache " + dir_);
  }
  const Stamp stamp{static_cast<std::uint64_t>(info.st_size),
                    info.st_mtim.tv_sec * 1000000000LL + info.st_mtim.tv_nsec,
                    info.st_ctim.tv_sec * 1000000000LL + info.st_ctim.tv_nsec,
                    static_cast<std::uint64_t>(info.st_ino)};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = verified_.find(sha256);
    if (it != verified_.end() && it->second == stamp) return path;
  }
  // First use in this process, or the file changed: hash it (outside the lock).
  StatusOr<std::string> digest = Sha256File(path);
  if (digest.ok() && *digest == sha256) {
    std::lock_guard<std::mutex> lock(mu_);
    verified_[sha256] = stamp;
    return path;
  }
  std::error_code ec;
  fs::remove(path, ec);
  {
    std::lock_guard<std::mutex> lock(mu_);
    verified_.erase(sha256);
  }
  if (damaged != nullptr) *damaged = true;
  return NotFound("cached artifact " + path + " was damaged (" +
                  (digest.ok() ? "its bytes hash to " + *digest : digest.status().message()) +
                  ") and was removed");
}

void ArtifactCache::Remember(const std::string& sha256, const std::string& path) {
  struct stat info = {};
  if (::lstat(path.c_str(), &info) != 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  verified_[sha256] = Stamp{static_cast<std::uint64_t>(info.st_size),
                            info.st_mtim.tv_sec * 1000000000LL + info.st_mtim.tv_nsec,
                            info.st_ctim.tv_sec * 1000000000LL + info.st_ctim.tv_nsec,
                            static_cast<std::uint64_t>(info.st_ino)};
}

StatusOr<std::unique_ptr<ArtifactCache::Writer>> ArtifactCache::Begin(const std::string& sha256,
                                                                      std::uint64_t size) {
  if (!IsLowerSha256Hex(sha256)) {
    return InvalidArgument("artifact cache: '" + sha256 + "' is not 64 lower-case hex digits");
  }
  std::uint64_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = next_temp_++;
  }
  // Unique across processes sharing the folder (pid) and within this one (counter).
  const std::string temp = (fs::path(dir_) / "tmp" /
                            (sha256 + "." + std::to_string(::getpid()) + "-" + std::to_string(n) +
                             ".part"))
                               .string();
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Internal("cannot create '" + temp + "': " + ErrnoText());
  return std::unique_ptr<Writer>(new Writer(this, sha256, size, temp, fd));
}

ArtifactCache::Writer::Writer(ArtifactCache* cache, std::string sha256, std::uint64_t size,
                              std::string temp, int fd)
    : cache_(cache), sha256_(std::move(sha256)), size_(size), temp_(std::move(temp)), fd_(fd) {}

ArtifactCache::Writer::~Writer() {
  if (fd_ >= 0) ::close(fd_);
  if (!done_) ::unlink(temp_.c_str());
}

Status ArtifactCache::Writer::Append(std::string_view bytes) {
  if (done_ || fd_ < 0) return FailedPrecondition("artifact cache: append after Finish");
  if (bytes.size() > size_ - written_) {
    return DataLoss("artifact " + sha256_ + ": more than the expected " + std::to_string(size_) +
                    " bytes");
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Internal("cannot write '" + temp_ + "': " + ErrnoText());
    done += static_cast<std::size_t>(n);
  }
  hash_.Update(bytes);
  written_ += bytes.size();
  return Status::Ok();
}

StatusOr<std::string> ArtifactCache::Writer::Finish() {
  if (done_ || fd_ < 0) return FailedPrecondition("artifact cache: Finish called twice");
  if (written_ != size_) {
    return DataLoss("artifact " + sha256_ + ": received " + std::to_string(written_) +
                    " bytes, expected " + std::to_string(size_));
  }
  const std::string digest = hash_.FinishHex();
  if (digest != sha256_) {
    return DataLoss("artifact " + sha256_ + ": the received bytes hash to " + digest);
  }
  const int fd = fd_;
  fd_ = -1;
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Internal("cannot write '" + temp_ + "': " + ErrnoText());
  }
  const std::string path = cache_->PathFor(sha256_);
  if (::rename(temp_.c_str(), path.c_str()) != 0) {
    return Internal("cannot move '" + temp_ + "' to '" + path + "': " + ErrnoText());
  }
  done_ = true;
  cache_->Remember(sha256_, path);
  return path;
}

}  // namespace farm::agent
