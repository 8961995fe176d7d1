// SHA-256, the farm's content hash for models, artifacts and canonical parameter records.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "farm/schemas/status.h"

namespace farm {

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// Lower-case hex SHA-256 of a file's bytes, read in chunks. NotFound or DataLoss on
// failure, with the path in the message.
StatusOr<std::string> Sha256File(const std::string& path);

// The 10-hex-digit prefix Stable Diffusion front ends print as a model's "short hash".
std::string ShortHash(std::string_view sha256_hex);

// Incremental hashing for data that arrives in pieces (uploads, large files).
// Not thread-safe; one instance per stream.
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data);
  void Update(const void* data, std::size_t size);
  // Returns the hex digest; the object must not be used afterwards.
  std::string FinishHex();

 private:
  alignas(64) std::array<unsigned char, 256> state_;  // crypto_hash_sha256_state
};

}  // namespace farm
