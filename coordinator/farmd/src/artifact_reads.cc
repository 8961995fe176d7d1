#include "artifact_reads.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "artifact_uploads.h"
#include "farm/schemas/safe_path.h"

namespace farm::farmd {
namespace v1 = studiofarm::v1;
namespace {

// Longest output name a request may carry (names are short: "lora@1600", "stage/x").
constexpr std::size_t kMaxNameBytes = 256;


v1::ArtifactInfo InfoError(std::uint64_t request_id, v1::FetchError error, std::string message) {
  v1::ArtifactInfo info;
  info.set_request_id(request_id);
  info.set_error(error);
  info.set_message(std::move(message));
  return info;
}

v1::ArtifactData DataError(const v1::ArtifactRead& read, v1::FetchError error,
                           std::string message) {
  v1::ArtifactData data;
  data.set_request_id(read.request_id());
  data.set_sha256(read.sha256());
  data.set_offset(read.offset());
  data.set_error(error);
  data.set_message(std::move(message));
  return data;
}

// Closes the descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

ArtifactReads::ArtifactReads(std::filesystem::path root, std::size_t max_queued,
                             std::uint64_t bytes_per_pass)
    : root_(std::move(root)), max_queued_(max_queued), bytes_per_pass_(bytes_per_pass) {}

v1::ArtifactInfo ArtifactReads::Resolve(store::Store& store,
                                        const v1::ArtifactResolve& request) const {
  const std::uint64_t id = request.request_id();
  const std::string& hash = request.producer_param_hash();
  const std::string& name = request.name();
  if (!IsSha256Hex(hash)) {
    return InfoError(id, v1::FETCH_ERROR_BAD_REQUEST,
                     "artifact resolve: producer_param_hash is not 64 lower-case hex digits");
  }
  if (name.empty() || name.size() > kMaxNameBytes) {
    return InfoError(id, v1::FETCH_ERROR_BAD_REQUEST,
                     "artifact resolve: the name must be 1 to " + std::to_string(kMaxNameBytes) +
                         " bytes");
  }
  const std::string what = "artifact '" + name + "' of job " + hash;
  StatusOr<store::JobArtifact> found = store.FindJobArtifact(hash, name);
  if (found.ok()) {
    v1::ArtifactInfo info;
    info.set_request_id(id);
    v1::ArtifactDescriptor* d = info.mutable_artifact();
    d->set_name(name);
    d->set_sha256(found->artifact.sha256);
    d->set_size_bytes(static_cast<std::uint64_t>(found->artifact.size));
    d->set_media_type(found->artifact.media_type);
    return info;
  }
  if (found.status().code() != StatusCode::kNotFound) {
    return InfoError(id, v1::FETCH_ERROR_UNAVAILABLE, what + ": " + found.status().message());
  }
  // Why not: no such job, not finished yet, failed, or finished without that output.
  StatusOr<std::vector<store::Job>> jobs = store.ListJobsByParamHash(hash);
  if (!jobs.ok()) return InfoError(id, v1::FETCH_ERROR_UNAVAILABLE, what + ": " + jobs.status().message());
  if (jobs->empty()) {
    return InfoError(id, v1::FETCH_ERROR_NOT_FOUND, what + ": farmd has no job with that param_hash");
  }
  for (const store::Job& job : *jobs) {
    if (job.state == store::JobState::kQueued || job.state == store::JobState::kLeased) {
      return InfoError(id, v1::FETCH_ERROR_NOT_READY,
                       what + ": job " + std::to_string(job.id) + " (" + store::Name(job.kind) +
                           ") is " + store::Name(job.state) + ", not finished yet");
    }
  }
  for (const store::Job& job : *jobs) {
    if (job.state != store::JobState::kSucceeded) continue;
    std::string names;
    if (auto outputs = store.ListJobArtifacts(job.id); outputs.ok()) {
      for (const store::JobArtifact& output : *outputs) {
        names += (names.empty() ? "" : ", ") + output.name;
      }
    }
    return InfoError(id, v1::FETCH_ERROR_NOT_FOUND,
                     what + ": job " + std::to_string(job.id) + " succeeded without it (its " +
                         "outputs: " + (names.empty() ? "none recorded" : names) + ")");
  }
  const store::Job& last = jobs->front();
  return InfoError(id, v1::FETCH_ERROR_NOT_FOUND,
                   what + ": job " + std::to_string(last.id) + " " + store::Name(last.state) +
                       (last.last_error.empty() ? "" : ": " + last.last_error));
}

bool ArtifactReads::Enqueue(const std::string& peer, const v1::ArtifactRead& read) {
  if (queue_.size() >= max_queued_) {
    ++reads_refused_;
    return false;
  }
  queue_.push_back({peer, read});
  return true;
}

void ArtifactReads::Serve(store::Store& store, const SendFn& send) {
  std::uint64_t budget = 0;
  while (!queue_.empty() && (budget == 0 || budget < bytes_per_pass_)) {
    Pending next = std::move(queue_.front());
    queue_.pop_front();
    v1::Envelope envelope;
    *envelope.mutable_artifact_data() = Read(store, next.read);
    const std::uint64_t size = envelope.artifact_data().data().size();
    budget += std::max<std::uint64_t>(size, 1);
    bytes_served_ += size;
    send(next.peer, std::move(envelope));
  }
}

v1::ArtifactData ArtifactReads::Read(store::Store& store, const v1::ArtifactRead& read) const {
  if (!IsSha256Hex(read.sha256())) {
    return DataError(read, v1::FETCH_ERROR_BAD_REQUEST,
                     "artifact read: sha256 is not 64 lower-case hex digits");
  }
  if (read.length() > kMaxReadBytes) {
    return DataError(read, v1::FETCH_ERROR_BAD_REQUEST,
                     "artifact read of " + std::to_string(read.length()) + " bytes; at most " +
                         std::to_string(kMaxReadBytes) + " per request");
  }
  StatusOr<store::Artifact> artifact = store.GetArtifactBySha256(read.sha256());
  if (!artifact.ok()) {
    if (artifact.status().code() == StatusCode::kNotFound) {
      return DataError(read, v1::FETCH_ERROR_NOT_FOUND,
                       "farmd has no artifact " + read.sha256());
    }
    return DataError(read, v1::FETCH_ERROR_UNAVAILABLE,
                     "artifact " + read.sha256() + ": " + artifact.status().message());
  }
  const auto size = static_cast<std::uint64_t>(artifact->size);
  if (read.offset() > size) {
    return DataError(read, v1::FETCH_ERROR_BAD_REQUEST,
                     "artifact " + read.sha256() + " has " + std::to_string(size) +
                         " bytes; read at offset " + std::to_string(read.offset()));
  }
  if (!IsSafeRelativePath(artifact->path)) {
    return DataError(read, v1::FETCH_ERROR_UNAVAILABLE,
                     "artifact " + read.sha256() + ": stored path '" + artifact->path +
                         "' is not inside the artifact root");
  }
  const std::filesystem::path path = root_ / artifact->path;
  Fd file;
  file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat info = {};
  if (file.fd < 0 || ::fstat(file.fd, &info) != 0) {
    return DataError(read, v1::FETCH_ERROR_UNAVAILABLE,
                     "farmd cannot open artifact file '" + path.string() + "': " +
                         std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode) || static_cast<std::uint64_t>(info.st_size) != size) {
    return DataError(read, v1::FETCH_ERROR_UNAVAILABLE,
                     "artifact file '" + path.string() + "' has " +
                         std::to_string(info.st_size) + " bytes, the store says " +
                         std::to_string(size));
  }
  const std::uint64_t want =
      std::min<std::uint64_t>(read.length() == 0 ? kMaxReadBytes : read.length(),
                              size - read.offset());
  v1::ArtifactData data;
  data.set_request_id(read.request_id());
  data.set_sha256(read.sha256());
  data.set_size_bytes(size);
  data.set_offset(read.offset());
  std::string* bytes = data.mutable_data();
  bytes->resize(want);
  std::uint64_t done = 0;
  while (done < want) {
    const ssize_t n = ::pread(file.fd, bytes->data() + done, want - done,
                              static_cast<off_t>(read.offset() + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return DataError(read, v1::FETCH_ERROR_UNAVAILABLE,
                       "cannot read artifact file '" + path.string() + "'" +
                           (n < 0 ? std::string(": ") + std::strerror(errno) : " (short file)"));
    }
    done += static_cast<std::uint64_t>(n);
  }
  return data;
}

}  // namespace farm::farmd
