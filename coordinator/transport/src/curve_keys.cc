#include "farm/transport/curve_keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>

namespace farm::transport {
namespace {

constexpr char kZ85Alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int Z85Index(char c) {
  const char* at = std::strchr(kZ85Alphabet, c);
  return (c == '\0' || at == nullptr) ? -1 : static_cast<int>(at - kZ85Alphabet);
}

Status SodiumReady() {
  // sodium_init is idempotent and thread-safe; it returns 1 when already initialised.
  if (sodium_init() < 0) return Internal("libsodium failed to initialise");
  return Status::Ok();
}

std::string Trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

Status LineError(const std::string& path, int line, const std::string& what) {
  return InvalidArgument(path + ":" + std::to_string(line) + ": " + what);
}

StatusOr<std::ifstream> OpenForRead(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return NotFound(path + ": no such file");
    return Unavailable(path + ": cannot open: " + std::strerror(errno));
  }
  return in;
}

}  // namespace

StatusOr<std::string> Z85Encode(const std::string& bytes) {
  if (bytes.size() % 4 != 0) {
    return InvalidArgument("Z85 input must be a multiple of 4 bytes, got " +
                           std::to_string(bytes.size()));
  }
  std::string out;
  out.reserve(bytes.size() / 4 * 5);
  for (std::size_t i = 0; i < bytes.size(); i += 4) {
    std::uint32_t value = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      value = (value << 8) | static_cast<unsigned char>(bytes[i + j]);
    }
    char chunk[5];
    for (int j = 4; j >= 0; --j) {
      chunk[j] = kZ85Alphabet[value % 85];
      value /= 85;
    }
    out.append(chunk, 5);
  }
  return out;
}

StatusOr<std::string> Z85Decode(const std::string& text) {
  if (text.size() % 5 != 0) {
    return InvalidArgument("Z85 text must be a multiple of 5 characters, got " +
                           std::to_string(text.size()));
  }
  std::string out;
  out.reserve(text.size() / 5 * 4);
  for (std::size_t i = 0; i < text.size(); i += 5) {
    std::uint64_t value = 0;
    for (std::size_t j = 0; j < 5; ++j) {
      const int index = Z85Index(text[i + j]);
      if (index < 0) {
        return InvalidArgument("invalid Z85 character at position " + std::to_string(i + j));
      }
      value = value * 85 + static_cast<std::uint64_t>(index);
    }
    if (value > 0xFFFFFFFFu) {
      return InvalidArgument("Z85 group at position " + std::to_string(i) + " overflows");
    }
    for (int shift = 24; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((value >> shift) & 0xFF));
    }
  }
  return out;
}

bool IsValidCurveKey(const std::string& key) {
  if (key.size() != kCurveZ85Chars) return false;
  return Z85Decode(key).ok();
}

StatusOr<CurveKeyPair> GenerateCurveKeyPair() {
  FARM_RETURN_IF_ERROR(SodiumReady());
  unsigned char public_key[crypto_box_PUBLICKEYBYTES];
  unsigned char secret_key[crypto_box_SECRETKEYBYTES];
  static_assert(crypto_box_PUBLICKEYBYTES == kCurveKeyBytes);
  static_assert(crypto_box_SECRETKEYBYTES == kCurveKeyBytes);
  crypto_box_keypair(public_key, secret_key);
  CurveKeyPair pair;
  FARM_ASSIGN_OR_RETURN(pair.public_key,
                        Z85Encode(std::string(reinterpret_cast<char*>(public_key), 32)));
  FARM_ASSIGN_OR_RETURN(pair.secret_key,
                        Z85Encode(std::string(reinterpret_cast<char*>(secret_key), 32)));
  sodium_memzero(secret_key, sizeof(secret_key));
  return pair;
}

StatusOr<std::string> CurvePublicFromSecret(const std::string& secret_z85) {
  FARM_RETURN_IF_ERROR(SodiumReady());
  if (secret_z85.size() != kCurveZ85Chars) {
    return InvalidArgument("a CURVE key is 40 Z85 characters, got " +
                           std::to_string(secret_z85.size()));
  }
  FARM_ASSIGN_OR_RETURN(std::string secret, Z85Decode(secret_z85));
  unsigned char public_key[kCurveKeyBytes];
  if (crypto_scalarmult_base(public_key, reinterpret_cast<const unsigned char*>(secret.data())) !=
      0) {
    return InvalidArgument("not a usable CURVE secret key");
  }
  sodium_memzero(secret.data(), secret.size());
  return Z85Encode(std::string(reinterpret_cast<char*>(public_key), kCurveKeyBytes));
}

Status WriteCurveKeyFile(const std::string& path, const CurveKeyPair& keys, bool overwrite) {
  if (!IsValidCurveKey(keys.public_key)) return InvalidArgument("invalid public key");
  const bool has_secret = !keys.secret_key.empty();
  if (has_secret && !IsValidCurveKey(keys.secret_key)) {
    return InvalidArgument("invalid secret key");
  }
  const mode_t mode = has_secret ? 0600 : 0644;
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  const int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) {
    if (errno == EEXIST) return AlreadyExists(path + ": exists (pass --force to overwrite)");
    return Unavailable(path + ": cannot create: " + std::strerror(errno));
  }
  // An overwritten file keeps its old mode otherwise; a secret must never be readable.
  std::string text = "public: " + keys.public_key + "\n";
  if (has_secret) text += "secret: " + keys.secret_key + "\n";
  bool ok = ::fchmod(fd, mode) == 0;
  for (std::size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  const int saved_errno = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok) return Unavailable(path + ": cannot write: " + std::strerror(saved_errno));
  return Status::Ok();
}

StatusOr<CurveKeyPair> ReadCurveKeyFile(const std::string& path) {
  FARM_ASSIGN_OR_RETURN(std::ifstream in, OpenForRead(path));
  CurveKeyPair keys;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      return LineError(path, number, "expected 'public: KEY' or 'secret: KEY'");
    }
    const std::string name = Trim(line.substr(0, colon));
    const std::string value = Trim(line.substr(colon + 1));
    std::string* field = name == "public"   ? &keys.public_key
                         : name == "secret" ? &keys.secret_key
                                            : nullptr;
    if (field == nullptr) return LineError(path, number, "unknown field '" + name + "'");
    if (!field->empty()) return LineError(path, number, "duplicate '" + name + "'");
    if (!IsValidCurveKey(value)) {
      return LineError(path, number, name + " key is not 40 Z85 characters");
    }
    *field = value;
  }
  if (keys.public_key.empty()) return InvalidArgument(path + ": no 'public:' line");
  if (!keys.secret_key.empty()) {
    FARM_ASSIGN_OR_RETURN(std::string derived, CurvePublicFromSecret(keys.secret_key));
    if (derived != keys.public_key) {
      return InvalidArgument(path + ": the secret key does not belong to the public key");
    }
  }
  return keys;
}

StatusOr<std::vector<std::string>> ReadAllowListFile(const std::string& path) {
  FARM_ASSIGN_OR_RETURN(std::ifstream in, OpenForRead(path));
  std::vector<std::string> keys;
  std::set<std::string> seen;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    // '#' is also a Z85 character, so a line is a key when its first word is one.
    line = Trim(line);
    const std::string key = line.substr(0, line.find_first_of(" \t"));
    const std::string rest = Trim(line.substr(key.size()));
    if (line.empty() || (line[0] == '#' && !IsValidCurveKey(key))) continue;
    if (!IsValidCurveKey(key)) {
      return LineError(path, number, "not a CURVE public key (40 Z85 characters): '" + key + "'");
    }
    if (!rest.empty() && rest[0] != '#') {
      return LineError(path, number, "unexpected text after the key: '" + rest + "'");
    }
    if (seen.insert(key).second) keys.push_back(key);
  }
  return keys;
}

}  // namespace farm::transport
