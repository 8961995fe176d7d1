#include "artifact_uploads.h"

#include <cerrno>
#include <cstring>
#include <system_error>

namespace farm::farmd {
namespace fs = std::filesystem;
namespace {

// "cannot write '<path>': File too large": the OS reason of a failed stream operation
// (errno of the write or close that failed), so a full disk or a file-size limit shows.
Status WriteError(const std::string& verb, const fs::path& path) {
  const int error = errno;
  return Internal("cannot " + verb + " '" + path.string() + "'" +
                  (error != 0 ? std::string(": ") + std::strerror(error) : std::string()));
}

}  // namespace

bool IsSha256Hex(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string ContentPath(const std::string& sha256) {
  return sha256.substr(0, 2) + "/" + sha256.substr(2, 2) + "/" + sha256;
}

ArtifactUploads::ArtifactUploads(fs::path root, std::uint64_t max_bytes, std::size_t max_per_lease)
    : root_(std::move(root)), max_bytes_(max_bytes), max_per_lease_(max_per_lease) {}

ArtifactUploads::~ArtifactUploads() {
  while (!uploads_.empty()) Discard(uploads_.begin());
}

Status ArtifactUploads::Prepare() {
  std::error_code ec;
  fs::create_directories(root_ / "tmp", ec);
  if (ec) return Internal("cannot create artifact root '" + root_.string() + "': " + ec.message());
  for (const auto& entry : fs::directory_iterator(root_ / "tmp", ec)) {
    std::error_code ignored;
    fs::remove(entry.path(), ignored);
  }
  if (ec) return Internal("cannot list '" + (root_ / "tmp").string() + "': " + ec.message());
  return Status::Ok();
}

std::size_t ArtifactUploads::CountForLease(const std::string& peer,
                                           scheduler::LeaseRef lease) const {
  std::size_t n = 0;
  for (auto it = uploads_.lower_bound(Key{peer, lease.job, lease.attempt, ""});
       it != uploads_.end() && std::get<0>(it->first) == peer &&
       std::get<1>(it->first) == lease.job && std::get<2>(it->first) == lease.attempt;
       ++it) {
    ++n;
  }
  return n;
}

void ArtifactUploads::Discard(std::map<Key, Upload>::iterator it) {
  it->second.out.reset();
  if (!it->second.temp.empty()) {
    std::error_code ignored;
    fs::remove(it->second.temp, ignored);
  }
  uploads_.erase(it);
}

Status ArtifactUploads::Spill(Upload& upload) {
  upload.temp = root_ / "tmp" / ("upload-" + std::to_string(next_temp_++) + ".part");
  errno = 0;
  upload.out = std::make_unique<std::ofstream>(upload.temp, std::ios::binary | std::ios::trunc);
  if (!*upload.out) return WriteError("create", upload.temp);
  upload.out->write(upload.buffer.data(), static_cast<std::streamsize>(upload.buffer.size()));
  if (!*upload.out) return WriteError("write", upload.temp);
  std::string().swap(upload.buffer);
  return Status::Ok();
}

Status ArtifactUploads::AddChunk(const std::string& peer, scheduler::LeaseRef lease,
                                 const studiofarm::v1::ArtifactChunk& chunk) {
  if (!IsSha256Hex(chunk.sha256())) {
    return InvalidArgument("artifact chunk: sha256 is not 64 lower-case hex digits");
  }
  Key key{peer, lease.job, lease.attempt, chunk.sha256()};
  auto it = uploads_.find(key);
  if (it == uploads_.end()) {
    if (chunk.offset() != 0) {
      return InvalidArgument("artifact chunk at offset " + std::to_string(chunk.offset()) +
                             " for an upload that has not started");
    }
    if (CountForLease(peer, lease) >= max_per_lease_) {
      return InvalidArgument("more than " + std::to_string(max_per_lease_) +
                             " artifacts for one lease");
    }
    Upload upload;
    upload.hash = std::make_unique<Sha256>();
    it = uploads_.emplace(key, std::move(upload)).first;
  }
  Upload& upload = it->second;
  auto fail = [&](Status status) {
    Discard(it);
    return status;
  };
  if (upload.complete) return fail(InvalidArgument("artifact chunk after the last one"));
  if (chunk.offset() != upload.size) {
    return fail(InvalidArgument("artifact chunk at offset " + std::to_string(chunk.offset()) +
                                ", expected " + std::to_string(upload.size)));
  }
  if (chunk.data().size() > max_bytes_ - upload.size) {
    return fail(InvalidArgument("artifact larger than the limit of " + std::to_string(max_bytes_) +
                                " bytes"));
  }
  if (!upload.out && upload.size + chunk.data().size() > kUploadSpillBytes) {
    if (Status spilled = Spill(upload); !spilled.ok()) return fail(spilled);
  }
  if (upload.out) {
    errno = 0;
    upload.out->write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    if (!*upload.out) return fail(WriteError("write", upload.temp));
  } else {
    upload.buffer += chunk.data();
  }
  upload.hash->Update(chunk.data());
  upload.size += chunk.data().size();
  if (chunk.last()) {
    if (upload.out) {
      errno = 0;
      upload.out->close();
      if (!*upload.out) return fail(WriteError("write", upload.temp));
    }
    const std::string digest = upload.hash->FinishHex();
    upload.hash.reset();
    if (digest != chunk.sha256()) {
      return fail(DataLoss("artifact " + chunk.sha256() + ": received bytes hash to " + digest));
    }
    upload.complete = true;
  }
  return Status::Ok();
}

Status ArtifactUploads::Verify(
    const std::string& peer, scheduler::LeaseRef lease,
    const google::protobuf::RepeatedPtrField<studiofarm::v1::ArtifactDescriptor>& descriptors)
    const {
  for (const auto& d : descriptors) {
    if (!IsSha256Hex(d.sha256())) {
      return InvalidArgument("artifact '" + d.name() + "': sha256 is not 64 hex digits");
    }
    auto it = uploads_.find(Key{peer, lease.job, lease.attempt, d.sha256()});
    if (it == uploads_.end() || !it->second.complete) {
      return DataLoss("artifact '" + d.name() + "' (" + d.sha256() +
                      ") was not received completely");
    }
    if (it->second.size != d.size_bytes()) {
      return DataLoss("artifact '" + d.name() + "': declared " + std::to_string(d.size_bytes()) +
                      " bytes, received " + std::to_string(it->second.size));
    }
  }
  return Status::Ok();
}

StatusOr<std::string> ArtifactUploads::Commit(const std::string& peer, scheduler::LeaseRef lease,
                                              const std::string& sha256) {
  auto it = uploads_.find(Key{peer, lease.job, lease.attempt, sha256});
  if (it == uploads_.end() || !it->second.complete) {
    return NotFound("no verified upload " + sha256);
  }
  const std::string relative = ContentPath(sha256);
  const fs::path target = root_ / relative;
  std::error_code ec;
  // Content-addressed: a file with the digest's name holds those bytes, as files only
  // get there by rename once written in full. A size that differs can only be damage
  // from outside farmd: that file is replaced below.
  const std::uintmax_t existing = fs::file_size(target, ec);
  if (!ec && existing == it->second.size) {
    Discard(it);
    return relative;
  }
  fs::create_directories(target.parent_path(), ec);
  if (ec) return Internal("cannot create '" + target.parent_path().string() + "': " + ec.message());
  if (!it->second.out) {
    // Written under a temp name and renamed: a crash never leaves a partial file at the
    // content address.
    Status spilled = Spill(it->second);
    if (spilled.ok()) {
      errno = 0;
      it->second.out->close();
      if (!*it->second.out) spilled = WriteError("write", it->second.temp);
    }
    if (!spilled.ok()) {
      Discard(it);
      return spilled;
    }
  }
  it->second.out.reset();
  fs::rename(it->second.temp, target, ec);
  if (ec) return Internal("cannot move artifact to '" + target.string() + "': " + ec.message());
  uploads_.erase(it);
  return relative;
}

void ArtifactUploads::Drop(const std::string& peer, scheduler::LeaseRef lease) {
  DropUnless(
      [&](const std::string& p, scheduler::LeaseRef l) { return !(p == peer && l == lease); });
}

void ArtifactUploads::DropUnless(
    const std::function<bool(const std::string&, scheduler::LeaseRef)>& keep) {
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    auto next = std::next(it);
    const scheduler::LeaseRef lease{std::get<1>(it->first), std::get<2>(it->first)};
    if (!keep(std::get<0>(it->first), lease)) Discard(it);
    it = next;
  }
}

}  // namespace farm::farmd
