#include "farm/schemas/sha256.h"

#include <sodium.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace farm {
namespace {

static_assert(sizeof(crypto_hash_sha256_state) <= 256, "state buffer too small");

std::string ToHex(const unsigned char* digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(crypto_hash_sha256_BYTES * 2, '0');
  for (std::size_t i = 0; i < crypto_hash_sha256_BYTES; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

crypto_hash_sha256_state* AsState(std::array<unsigned char, 256>& buffer) {
  return reinterpret_cast<crypto_hash_sha256_state*>(buffer.data());
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return ToHex(digest);
}

StatusOr<std::string> Sha256File(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    const int err = errno;
    std::string msg = path + ": cannot open: " + std::strerror(err);
    return err == ENOENT ? NotFound(msg) : Unavailable(msg);
  }
  Sha256 hasher;
  std::string buffer(1 << 20, '\0');
  while (true) {
    const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
    if (n > 0) hasher.Update(buffer.data(), n);
    if (n < buffer.size()) {
      if (std::ferror(file.get())) return DataLoss(path + ": read error");
      break;
    }
  }
  return hasher.FinishHex();
}

std::string ShortHash(std::string_view sha256_hex) {
  return std::string(sha256_hex.substr(0, 10));
}

Sha256::Sha256() { crypto_hash_sha256_init(AsState(state_)); }

void Sha256::Update(std::string_view data) { Update(data.data(), data.size()); }

void Sha256::Update(const void* data, std::size_t size) {
  crypto_hash_sha256_update(AsState(state_), static_cast<const unsigned char*>(data), size);
}

std::string Sha256::FinishHex() {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(AsState(state_), digest);
  return ToHex(digest);
}

}  // namespace farm
