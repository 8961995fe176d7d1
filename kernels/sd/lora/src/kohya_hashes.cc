#include "farm/sd/kohya_hashes.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "farm/sd/safetensors.h"
#include "farm/sd/sha256.h"

namespace farm::sd {
namespace {

std::string Legacy(std::string_view window) {
  Sha256 hash;
  hash.Update(window);
  return hash.FinishHex().substr(0, 8);
}

// The part of [begin, begin + bytes.size()) that falls in the legacy window, appended.
void CollectLegacyWindow(uint64_t begin, std::string_view bytes, std::string& window) {
  const uint64_t end = begin + bytes.size();
  const uint64_t from = std::max(begin, kLegacyHashOffset);
  const uint64_t to = std::min(end, kLegacyHashOffset + kLegacyHashLength);
  if (from < to) window.append(bytes.substr(from - begin, to - from));
}

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

StatusOr<File> OpenForReading(const std::string& path) {
  File file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    const int err = errno;
    if (err == ENOENT) return NotFound(path + ": no such file");
    return Unavailable(path + ": cannot open: " + std::strerror(err));
  }
  return file;
}

}  // namespace

KohyaLoraHashes AddnetHashes(std::string_view file_bytes) {
  // int.from_bytes(b.read(8), "little"): fewer than 8 bytes read as a shorter number.
  uint64_t n = 0;
  for (size_t i = 0; i < std::min<size_t>(8, file_bytes.size()); ++i) {
    n |= static_cast<uint64_t>(static_cast<unsigned char>(file_bytes[i])) << (8 * i);
  }
  Sha256 data;
  if (file_bytes.size() >= 8 && n <= file_bytes.size() - 8) {  // else Python seeks past the end
    data.Update(file_bytes.substr(8 + n));
  }
  std::string window;
  CollectLegacyWindow(0, file_bytes, window);
  return {data.FinishHex(), Legacy(window)};
}

StatusOr<KohyaLoraHashes> PrecalculateSafetensorsHashes(const TensorMap& tensors,
                                                        const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> training;
  for (const auto& [key, value] : metadata) {
    if (key.starts_with("ss_")) training.emplace(key, value);
  }
  // The stream is length, header, then the data section: hash from the third piece on.
  Sha256 data;
  std::string window;
  uint64_t offset = 0;
  int piece = 0;
  FARM_RETURN_IF_ERROR(StreamSafetensors(tensors, &training, SafetensorsLayout::kPython,
                                         [&](std::string_view bytes) {
                                           if (piece++ >= 2) data.Update(bytes);
                                           CollectLegacyWindow(offset, bytes, window);
                                           offset += bytes.size();
                                           return Status::Ok();
                                         }));
  return KohyaLoraHashes{data.FinishHex(), Legacy(window)};
}

StatusOr<std::string> WebuiLegacyModelHash(const std::string& path) {
  FARM_ASSIGN_OR_RETURN(File file, OpenForReading(path));
  std::string window(kLegacyHashLength, '\0');
  size_t got = 0;
  if (::fseeko(file.get(), static_cast<off_t>(kLegacyHashOffset), SEEK_SET) == 0) {
    got = std::fread(window.data(), 1, window.size(), file.get());
    if (std::ferror(file.get())) return DataLoss(path + ": read error: " + std::strerror(errno));
  }
  window.resize(got);
  return Legacy(window);
}

StatusOr<WebuiModelHashes> WebuiModelHashesOfFile(const std::string& path) {
  FARM_ASSIGN_OR_RETURN(File file, OpenForReading(path));
  Sha256 whole;
  std::string window;
  std::string chunk(1 << 20, '\0');
  uint64_t offset = 0;
  while (true) {
    const size_t got = std::fread(chunk.data(), 1, chunk.size(), file.get());
    if (got == 0) break;
    const std::string_view bytes(chunk.data(), got);
    whole.Update(bytes);
    CollectLegacyWindow(offset, bytes, window);
    offset += got;
  }
  if (std::ferror(file.get())) return DataLoss(path + ": read error: " + std::strerror(errno));
  WebuiModelHashes hashes;
  hashes.sha256 = whole.FinishHex();
  hashes.short_hash = hashes.sha256.substr(0, 10);
  hashes.legacy_hash = Legacy(window);
  return hashes;
}

}  // namespace farm::sd
