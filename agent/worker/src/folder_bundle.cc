#include "farm/agent/folder_bundle.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>
#include "farm/schemas/safe_path.h"

namespace farm::agent {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kBlock = 512;
constexpr std::size_t kMaxEntries = 100000;

// Relative, inside the folder, and short enough for a ustar name field.
bool IsSafeRelative(std::string_view path) { return path.size() <= 255 && IsSafeRelativePath(path); }

void PutOctal(char* field, std::size_t width, std::uint64_t value) {
  // width-1 octal digits, zero-padded, then NUL.
  for (std::size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  field[width - 1] = '\0';
}

std::uint64_t Checksum(const char* header) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) {
    sum += (i >= 148 && i < 156) ? static_cast<unsigned char>(' ')
                                 : static_cast<unsigned char>(header[i]);
  }
  return sum;
}

StatusOr<std::uint64_t> ReadOctal(const char* field, std::size_t width, const std::string& what) {
  std::uint64_t value = 0;
  std::size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  bool digits = false;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (value > (UINT64_MAX >> 3)) return DataLoss(what + ": number out of range");
    value = value * 8 + static_cast<std::uint64_t>(field[i] - '0');
    digits = true;
  }
  for (; i < width; ++i) {
    if (field[i] != '\0' && field[i] != ' ') return DataLoss(what + ": malformed number");
  }
  if (!digits) return DataLoss(what + ": empty number");
  return value;
}

std::string Field(const char* field, std::size_t width) {
  return std::string(field, strnlen(field, width));
}

}  // namespace

StatusOr<std::string> BundleFolder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound("'" + dir + "' is not a folder");
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const fs::file_status status = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(status)) continue;
    const std::string rel = fs::relative(it->path(), dir, ec).generic_string();
    if (!fs::is_regular_file(status)) {
      return InvalidArgument("bundle of '" + dir + "': '" + rel + "' is not a regular file");
    }
    if (!IsSafeRelative(rel)) {
      return InvalidArgument("bundle of '" + dir + "': path '" + rel + "' cannot be archived");
    }
    files.push_back(rel);
  }
  if (ec) return Unavailable("cannot list '" + dir + "': " + ec.message());
  std::sort(files.begin(), files.end());
  std::string out;
  for (const std::string& rel : files) {
    std::ifstream in(fs::path(dir) / rel, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in && !in.eof()) return Unavailable("cannot read '" + dir + "/" + rel + "'");
    const std::string data = bytes.str();
    char header[kBlock] = {};
    // Names over 100 bytes go into prefix (up to 155) + name, split at a '/'.
    std::string name = rel, prefix;
    if (name.size() > 100) {
      const std::size_t cut = rel.rfind('/', 155);
      if (cut == std::string::npos || rel.size() - cut - 1 > 100 || cut == 0) {
        return InvalidArgument("bundle of '" + dir + "': path '" + rel + "' is too long for ustar");
      }
      prefix = rel.substr(0, cut);
      name = rel.substr(cut + 1);
    }
    std::memcpy(header, name.data(), name.size());
    PutOctal(header + 100, 8, 0644);
    PutOctal(header + 108, 8, 0);
    PutOctal(header + 116, 8, 0);
    PutOctal(header + 124, 12, data.size());
    PutOctal(header + 136, 12, 0);
    header[156] = '0';
    std::memcpy(header + 257, "ustar", 6);
    std::memcpy(header + 263, "00", 2);
    std::memcpy(header + 345, prefix.data(), prefix.size());
    PutOctal(header + 148, 7, Checksum(header));
    header[155] = ' ';
    out.append(header, kBlock);
    out += data;
    out.append((kBlock - data.size() % kBlock) % kBlock, '\0');
  }
  out.append(2 * kBlock, '\0');
  return out;
}

Status UnbundleFolder(std::string_view archive, const std::string& dest) {
  std::error_code ec;
  if (fs::exists(dest, ec)) return AlreadyExists("'" + dest + "' exists already");
  // Unique per process and call: agents sharing a cache may unpack the same bundle at once.
  static std::atomic<std::uint64_t> counter{0};
  const fs::path temp = fs::path(dest).string() + ".unpacking-" + std::to_string(::getpid()) +
                        "-" + std::to_string(counter++);
  fs::create_directory(temp, ec);
  if (ec) return Unavailable("cannot create '" + temp.string() + "': " + ec.message());
  auto fail = [&](Status status) {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
    return status;
  };
  std::size_t offset = 0, entries = 0;
  bool ended = false;
  while (offset + kBlock <= archive.size()) {
    const char* header = archive.data() + offset;
    if (std::all_of(header, header + kBlock, [](char c) { return c == '\0'; })) {
      ended = true;
      break;
    }
    const std::string where = "bundle entry at byte " + std::to_string(offset);
    if (++entries > kMaxEntries) return fail(DataLoss("bundle has more than 100000 entries"));
    StatusOr<std::uint64_t> sum = ReadOctal(header + 148, 8, where + " checksum");
    if (!sum.ok()) return fail(sum.status());
    if (*sum != Checksum(header)) return fail(DataLoss(where + ": header checksum mismatch"));
    StatusOr<std::uint64_t> size = ReadOctal(header + 124, 12, where + " size");
    if (!size.ok()) return fail(size.status());
    std::string path = Field(header, 100);
    const std::string prefix = Field(header + 345, 155);
    if (!prefix.empty()) path = prefix + "/" + path;
    const char type = header[156];
    if (!IsSafeRelative(path)) return fail(DataLoss(where + ": unsafe path '" + path + "'"));
    offset += kBlock;
    if (*size > archive.size() - offset) return fail(DataLoss(where + " ('" + path + "'): truncated"));
    if (type == '5') {
      fs::create_directories(temp / path, ec);
      if (ec) return fail(Unavailable("cannot create '" + (temp / path).string() + "': " + ec.message()));
    } else if (type == '0' || type == '\0') {
      fs::create_directories((temp / path).parent_path(), ec);
      std::ofstream out(temp / path, std::ios::binary | std::ios::trunc);
      out.write(archive.data() + offset, static_cast<std::streamsize>(*size));
      if (ec || !out) return fail(Unavailable("cannot write '" + (temp / path).string() + "'"));
    } else {
      return fail(DataLoss(where + " ('" + path + "'): type '" + std::string(1, type) +
                           "' is not a regular file or folder"));
    }
    offset += static_cast<std::size_t>((*size + kBlock - 1) / kBlock * kBlock);
  }
  if (!ended) return fail(DataLoss("bundle ends without its end-of-archive block"));
  fs::rename(temp, dest, ec);
  if (ec) return fail(Unavailable("cannot move '" + temp.string() + "' to '" + dest + "': " + ec.message()));
  return Status::Ok();
}

}  // namespace farm::agent
