#include "farm/agent/artifact_fetcher.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "farm/agent/folder_bundle.h"

namespace farm::agent {
namespace v1 = studiofarm::v1;
using Clock = std::chrono::steady_clock;

namespace {

// How often a waiting job thread looks at its CancellationToken.
constexpr auto kCancelPoll = std::chrono::milliseconds(20);

// The Status for a farmd answer's error (`what` names the request).
Status FetchStatus(v1::FetchError error, const std::string& message, const std::string& what) {
  const std::string text = what + ": " + (message.empty() ? v1::FetchError_Name(error) : message);
  switch (error) {
    case v1::FETCH_ERROR_NOT_FOUND:
      return NotFound(text);
    case v1::FETCH_ERROR_BAD_REQUEST:
      return InvalidArgument(text);
    default:  // NOT_READY, UNAVAILABLE: farmd's state, another try may succeed
      return Unavailable(text);
  }
}

}  // namespace

StatusOr<std::shared_ptr<ArtifactFetcher>> ArtifactFetcher::Create(ArtifactFetcherOptions options) {
  if (options.cache_dir.empty()) return InvalidArgument("artifact fetcher: no cache folder");
  if (options.window == 0 || options.chunk_bytes == 0 || options.chunk_bytes > (1u << 20)) {
    return InvalidArgument("artifact fetcher: window must be >= 1 and chunk_bytes in 1..1 MiB");
  }
  if (options.max_attempts < 1 || options.request_timeout.count() <= 0) {
    return InvalidArgument("artifact fetcher: max_attempts and request_timeout must be positive");
  }
  FARM_ASSIGN_OR_RETURN(
      std::unique_ptr<ArtifactCache> cache,
      ArtifactCache::Open((std::filesystem::path(options.cache_dir) / "artifacts").string()));
  return std::shared_ptr<ArtifactFetcher>(new ArtifactFetcher(std::move(options), std::move(cache)));
}

ArtifactFetcher::ArtifactFetcher(ArtifactFetcherOptions options, std::unique_ptr<ArtifactCache> cache)
    : options_(std::move(options)), cache_(std::move(cache)) {}

ArtifactFetcher::~ArtifactFetcher() = default;

void ArtifactFetcher::Attach(std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(mu_);
  wake_ = std::move(wake);
}

void ArtifactFetcher::Detach() {
  std::lock_guard<std::mutex> lock(mu_);
  wake_ = nullptr;
  ++attach_epoch_;
  outgoing_.clear();
  cv_.notify_all();
}

bool ArtifactFetcher::attached() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<bool>(wake_);
}

std::vector<v1::Envelope> ArtifactFetcher::TakeOutgoing() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::Envelope> out;
  out.swap(outgoing_);
  return out;
}

bool ArtifactFetcher::Deliver(const v1::Envelope& envelope) {
  std::uint64_t id = 0;
  if (envelope.has_artifact_info()) {
    id = envelope.artifact_info().request_id();
  } else if (envelope.has_artifact_data()) {
    id = envelope.artifact_data().request_id();
  } else {
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = mailbox_.find(id);
  if (it != mailbox_.end() && !it->second.has_value()) {
    it->second = envelope;
    cv_.notify_all();
  }
  return true;
}

FetcherStats ArtifactFetcher::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::uint64_t ArtifactFetcher::QueueLocked(v1::Envelope envelope) {
  const std::uint64_t id = next_request_++;
  if (envelope.has_artifact_resolve()) envelope.mutable_artifact_resolve()->set_request_id(id);
  if (envelope.has_artifact_read()) envelope.mutable_artifact_read()->set_request_id(id);
  mailbox_[id];
  outgoing_.push_back(std::move(envelope));
  if (wake_) wake_();
  return id;
}

std::optional<v1::Envelope> ArtifactFetcher::WaitLocked(std::unique_lock<std::mutex>& lock,
                                                        const std::set<std::uint64_t>& ids,
                                                        Clock::time_point until,
                                                        const CancellationToken* cancel) {
  const std::uint64_t epoch = attach_epoch_;
  while (true) {
    for (std::uint64_t id : ids) {
      auto it = mailbox_.find(id);
      if (it != mailbox_.end() && it->second.has_value()) {
        v1::Envelope answer = std::move(*it->second);
        mailbox_.erase(it);
        return answer;
      }
    }
    const Clock::time_point now = Clock::now();
    if (now >= until || epoch != attach_epoch_ || (cancel && cancel->stop_requested())) {
      return std::nullopt;
    }
    cv_.wait_until(lock, std::min(until, now + kCancelPoll));
  }
}

StatusOr<v1::ArtifactDescriptor> ArtifactFetcher::Resolve(const std::string& producer_param_hash,
                                                          const std::string& name,
                                                          const CancellationToken* cancel) {
  const std::string what = "artifact '" + name + "' of job " + producer_param_hash;
  if (!IsLowerSha256Hex(producer_param_hash) || name.empty()) {
    return InvalidArgument(what + ": expected a 64-hex param_hash and a name");
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (auto known = resolved_.find({producer_param_hash, name}); known != resolved_.end()) {
    return known->second;
  }
  const Clock::time_point deadline = Clock::now() + options_.deadline;
  int attempts = 0;
  while (true) {
    if (!wake_) return FailedPrecondition(what + ": the agent is not connected to farmd");
    if (cancel && cancel->stop_requested()) return Unavailable(what + ": the job was stopped");
    if (Clock::now() >= deadline) return Status(StatusCode::kTimedOut, what + ": no answer from farmd in time");
    if (++attempts > options_.max_attempts) {
      return Unavailable(what + ": farmd did not answer " + std::to_string(options_.max_attempts) +
                         " requests");
    }
    if (attempts > 1) ++stats_.resends;
    v1::Envelope request;
    request.mutable_artifact_resolve()->set_producer_param_hash(producer_param_hash);
    request.mutable_artifact_resolve()->set_name(name);
    const std::uint64_t id = QueueLocked(std::move(request));
    std::optional<v1::Envelope> answer = WaitLocked(
        lock, {id}, std::min(deadline, Clock::now() + options_.request_timeout), cancel);
    if (!answer.has_value()) {
      mailbox_.erase(id);
      continue;
    }
    const v1::ArtifactInfo& info = answer->artifact_info();
    if (info.error() != v1::FETCH_ERROR_NONE) return FetchStatus(info.error(), info.message(), what);
    if (!IsLowerSha256Hex(info.artifact().sha256())) {
      return DataLoss(what + ": farmd answered with a malformed sha256");
    }
    resolved_[{producer_param_hash, name}] = info.artifact();
    return info.artifact();
  }
}

StatusOr<FetchedArtifact> ArtifactFetcher::FetchNamed(const std::string& producer_param_hash,
                                                      const std::string& name,
                                                      const CancellationToken* cancel) {
  FARM_ASSIGN_OR_RETURN(v1::ArtifactDescriptor descriptor,
                        Resolve(producer_param_hash, name, cancel));
  FARM_ASSIGN_OR_RETURN(FetchedArtifact fetched, Fetch(descriptor.sha256(), cancel));
  if (fetched.size != descriptor.size_bytes()) {
    return DataLoss("artifact '" + name + "' of job " + producer_param_hash + ": " +
                    std::to_string(fetched.size) + " bytes, farmd said " +
                    std::to_string(descriptor.size_bytes()));
  }
  return fetched;
}

StatusOr<FetchedArtifact> ArtifactFetcher::Fetch(const std::string& sha256,
                                                 const CancellationToken* cancel) {
  if (!IsLowerSha256Hex(sha256)) {
    return InvalidArgument("artifact '" + sha256 + "': not 64 lower-case hex digits");
  }
  // One download per artifact: later callers wait for it, then find the file cached.
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (downloading_.count(sha256) != 0) {
      if (cancel && cancel->stop_requested()) {
        return Unavailable("artifact " + sha256 + ": the job was stopped");
      }
      cv_.wait_for(lock, kCancelPoll);
    }
    downloading_.insert(sha256);
  }
  struct Release {
    ArtifactFetcher* self;
    const std::string& sha;
    ~Release() {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->downloading_.erase(sha);
      self->cv_.notify_all();
    }
  } release{this, sha256};

  bool damaged = false;
  StatusOr<std::string> cached = cache_->Lookup(sha256, &damaged);
  if (cached.ok()) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(*cached, ec);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.cache_hits;
    return FetchedArtifact{sha256, ec ? 0 : static_cast<std::uint64_t>(size), *cached, true};
  }
  if (damaged) {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.damaged_in_cache;
  }
  return Download(sha256, cancel);
}

StatusOr<std::string> ArtifactFetcher::FetchFolder(const std::string& sha256,
                                                   const CancellationToken* cancel) {
  if (!IsLowerSha256Hex(sha256)) {
    return InvalidArgument("folder bundle '" + sha256 + "': not 64 lower-case hex digits");
  }
  const std::filesystem::path dest =
      std::filesystem::path(options_.cache_dir) / "folders" / sha256;
  std::error_code ec;
  if (std::filesystem::is_directory(dest, ec)) return dest.string();
  FARM_ASSIGN_OR_RETURN(FetchedArtifact archive, Fetch(sha256, cancel));
  std::filesystem::create_directories(dest.parent_path(), ec);
  if (ec) return Unavailable("cannot create '" + dest.parent_path().string() + "': " + ec.message());
  std::ifstream in(archive.path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  Status unpacked = UnbundleFolder(bytes.str(), dest.string());
  // Another thread or agent sharing the cache unpacked the same bundle first: same bytes.
  if (unpacked.code() == StatusCode::kAlreadyExists) return dest.string();
  FARM_RETURN_IF_ERROR(unpacked.WithContext("folder bundle " + sha256));
  return dest.string();
}

StatusOr<FetchedArtifact> ArtifactFetcher::Download(const std::string& sha256,
                                                    const CancellationToken* cancel) {
  const std::string what = "artifact " + sha256;
  const Clock::time_point deadline = Clock::now() + options_.deadline;
  struct InFlight {
    std::uint64_t offset = 0;
    Clock::time_point sent;
    int attempts = 0;
  };
  std::map<std::uint64_t, InFlight> in_flight;     // request id -> read
  std::map<std::uint64_t, std::string> arrived;    // offset -> bytes not yet written
  std::optional<std::uint64_t> size;               // known after the first answer
  std::uint64_t next_offset = 0;                   // next range to ask for
  std::uint64_t written = 0;
  std::unique_ptr<ArtifactCache::Writer> writer;

  std::unique_lock<std::mutex> lock(mu_);
  auto send = [&](std::uint64_t offset, int attempts) {
    v1::Envelope request;
    request.mutable_artifact_read()->set_sha256(sha256);
    request.mutable_artifact_read()->set_offset(offset);
    request.mutable_artifact_read()->set_length(options_.chunk_bytes);
    const std::uint64_t id = QueueLocked(std::move(request));
    in_flight[id] = InFlight{offset, Clock::now(), attempts};
  };
  auto forget_all = [&] {
    for (const auto& [id, read] : in_flight) mailbox_.erase(id);
  };
  // The first read learns the size; then the window fills.
  if (!wake_) return FailedPrecondition(what + ": the agent is not connected to farmd");
  send(0, 1);
  next_offset = options_.chunk_bytes;
  while (true) {
    if (!wake_) {
      forget_all();
      return Unavailable(what + ": the connection to farmd was closed");
    }
    if (cancel && cancel->stop_requested()) {
      forget_all();
      return Unavailable(what + ": the job was stopped");
    }
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      forget_all();
      return Status(StatusCode::kTimedOut, what + ": not downloaded within " +
                      std::to_string(options_.deadline.count()) + " ms");
    }
    // Requests unanswered for request_timeout are sent again under a new id.
    Clock::time_point next_timeout = deadline;
    std::vector<InFlight> expired;
    for (auto it = in_flight.begin(); it != in_flight.end();) {
      if (now - it->second.sent >= options_.request_timeout) {
        expired.push_back(it->second);
        mailbox_.erase(it->first);
        it = in_flight.erase(it);
      } else {
        next_timeout = std::min(next_timeout, it->second.sent + options_.request_timeout);
        ++it;
      }
    }
    for (const InFlight& read : expired) {
      if (read.attempts >= options_.max_attempts) {
        forget_all();
        return Unavailable(what + ": farmd did not answer the read at offset " +
                           std::to_string(read.offset) + " " + std::to_string(read.attempts) +
                           " times");
      }
      ++stats_.resends;
      send(read.offset, read.attempts + 1);
      next_timeout = std::min(next_timeout, Clock::now() + options_.request_timeout);
    }
    std::set<std::uint64_t> ids;
    for (const auto& [id, read] : in_flight) ids.insert(id);
    std::optional<v1::Envelope> answer = WaitLocked(lock, ids, next_timeout, cancel);
    if (!answer.has_value()) continue;
    const v1::ArtifactData& data = answer->artifact_data();
    auto it = in_flight.find(data.request_id());
    if (it == in_flight.end()) continue;
    const InFlight read = it->second;
    in_flight.erase(it);
    if (data.error() == v1::FETCH_ERROR_BUSY) {
      ++stats_.resends;
      // Back off without holding the lock hostage: wait on the cv for the pause.
      cv_.wait_for(lock, options_.busy_backoff);
      send(read.offset, read.attempts);
      continue;
    }
    if (data.error() != v1::FETCH_ERROR_NONE) {
      forget_all();
      return FetchStatus(data.error(), data.message(), what);
    }
    if (data.sha256() != sha256 || data.offset() != read.offset ||
        (size.has_value() && data.size_bytes() != *size) ||
        data.data().size() > options_.chunk_bytes ||
        data.offset() + data.data().size() > data.size_bytes() ||
        (data.data().empty() && data.offset() < data.size_bytes())) {
      forget_all();
      return DataLoss(what + ": farmd's answer for offset " + std::to_string(read.offset) +
                      " does not fit the request (offset " + std::to_string(data.offset()) +
                      ", " + std::to_string(data.data().size()) + " bytes of " +
                      std::to_string(data.size_bytes()) + ")");
    }
    if (!size.has_value()) {
      if (data.size_bytes() > options_.max_artifact_bytes) {
        forget_all();
        return InvalidArgument(what + " has " + std::to_string(data.size_bytes()) +
                               " bytes, over the agent's limit of " +
                               std::to_string(options_.max_artifact_bytes));
      }
      size = data.size_bytes();
      lock.unlock();
      StatusOr<std::unique_ptr<ArtifactCache::Writer>> begun = cache_->Begin(sha256, *size);
      lock.lock();
      if (!begun.ok()) {
        forget_all();
        return begun.status();
      }
      writer = std::move(*begun);
    }
    arrived[data.offset()] = data.data();
    // Write what is contiguous, outside the lock (disk).
    lock.unlock();
    Status status = Status::Ok();
    while (status.ok() && !arrived.empty() && arrived.begin()->first == written) {
      status = writer->Append(arrived.begin()->second);
      written += arrived.begin()->second.size();
      arrived.erase(arrived.begin());
    }
    lock.lock();
    if (!status.ok()) {
      forget_all();
      return status;
    }
    stats_.bytes_downloaded += data.data().size();
    if (written == *size) {
      forget_all();
      lock.unlock();
      StatusOr<std::string> path = writer->Finish();
      lock.lock();
      if (!path.ok()) return path.status();
      ++stats_.downloads;
      return FetchedArtifact{sha256, *size, *path, false};
    }
    // Keep the window full.
    while (in_flight.size() < options_.window && next_offset < *size) {
      send(next_offset, 1);
      next_offset += options_.chunk_bytes;
    }
  }
}

}  // namespace farm::agent
