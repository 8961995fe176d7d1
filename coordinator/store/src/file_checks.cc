#include "file_checks.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace farm::store {
namespace {

namespace fs = std::filesystem;

// https://www.sqlite.org/fileformat.html#the_database_header
constexpr std::size_t kHeaderSize = 100;
constexpr char kMagic[] = "SQLite format 3";  // followed by a NUL: 16 bytes

std::uint32_t ReadBigEndian(const unsigned char* bytes, int count) {
  std::uint32_t value = 0;
  for (int i = 0; i < count; ++i) value = (value << 8) | bytes[i];
  return value;
}

Status CheckMissing(const std::string& path, bool read_only, bool create_if_missing) {
  if (read_only || !create_if_missing) {
    return NotFound(path + ": no such database file" +
                    (read_only ? " (create it with: farmctl db init --db " + path + ")" : ""));
  }
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  std::error_code error;
  const fs::file_status parent_status = fs::status(parent, error);
  if (!fs::exists(parent_status)) {
    return NotFound(path + ": parent directory " + parent.string() + " does not exist");
  }
  if (!fs::is_directory(parent_status)) {
    return InvalidArgument(path + ": " + parent.string() + " is not a directory");
  }
  return Status::Ok();
}

Status CheckHeader(const std::string& path, std::uintmax_t size) {
  std::array<unsigned char, kHeaderSize> header{};
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unavailable(path + ": cannot read the database file");
  in.read(reinterpret_cast<char*>(header.data()), static_cast<std::streamsize>(header.size()));
  const std::size_t read = static_cast<std::size_t>(in.gcount());
  const std::size_t magic_bytes = std::min<std::size_t>(read, sizeof(kMagic));
  if (std::memcmp(header.data(), kMagic, magic_bytes) != 0) {
    return InvalidArgument(path +
                           ": not a SQLite database (the file does not start with "
                           "\"SQLite format 3\")");
  }
  if (read < kHeaderSize) {
    return DataLoss(path + ": truncated SQLite database (" + std::to_string(size) +
                    " bytes, shorter than the 100-byte header)");
  }
  std::uint32_t page_size = ReadBigEndian(&header[16], 2);
  if (page_size == 1) page_size = 65536;
  if (page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)) != 0) {
    return DataLoss(path + ": corrupt SQLite header (page size " + std::to_string(page_size) + ")");
  }
  if (size % page_size != 0) {
    return DataLoss(path + ": truncated SQLite database (" + std::to_string(size) +
                    " bytes is not a whole number of " + std::to_string(page_size) +
                    "-byte pages)");
  }
  // The page count in the header is trustworthy only when its "version valid for" number
  // matches the change counter. A non-empty WAL may hold pages beyond the file's end.
  const std::uint32_t pages = ReadBigEndian(&header[28], 4);
  const bool pages_valid = pages != 0 && std::memcmp(&header[24], &header[92], 4) == 0;
  std::error_code error;
  const std::uintmax_t wal_size = fs::file_size(path + "-wal", error);
  const bool wal_has_frames = !error && wal_size > 0;
  const std::uintmax_t expected = static_cast<std::uintmax_t>(pages) * page_size;
  if (pages_valid && !wal_has_frames && size < expected) {
    return DataLoss(path + ": truncated SQLite database (the header says " + std::to_string(pages) +
                    " pages of " + std::to_string(page_size) +
                    " bytes = " + std::to_string(expected) + " bytes, the file has " +
                    std::to_string(size) + ")");
  }
  return Status::Ok();
}

}  // namespace

Status CheckDatabaseFile(const std::string& path, bool read_only, bool create_if_missing) {
  if (path.empty()) return InvalidArgument("empty database path");
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (!fs::exists(status)) return CheckMissing(path, read_only, create_if_missing);
  if (fs::is_directory(status)) {
    return InvalidArgument(path + ": is a directory; expected a database file");
  }
  if (!fs::is_regular_file(status)) {
    return InvalidArgument(path + ": not a regular file; expected a database file");
  }
  const std::uintmax_t size = fs::file_size(path, error);
  if (error) return Unavailable(path + ": cannot stat the database file: " + error.message());
  if (size == 0) {
    if (read_only) {
      return FailedPrecondition(path +
                                ": empty file, not a StudioFarm database (create it "
                                "with: farmctl db init --db " +
                                path + ")");
    }
    return Status::Ok();  // SQLite treats an empty file as an empty database
  }
  return CheckHeader(path, size);
}

}  // namespace farm::store
