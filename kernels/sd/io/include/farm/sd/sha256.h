// SHA-256 (FIPS 180-4), for naming model weights (face-ID shards, kohya's LoRA and
// checkpoint hashes). The farm's own hash lives in farm_schemas (libsodium), which
// kernels/ cannot depend on: they also build on their own with libtorch alone.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace farm::sd {

class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data);
  void Update(const void* data, size_t size) { Update(std::string_view(static_cast<const char*>(data), size)); }
  std::string FinishHex();  // lower-case hex; the object is spent afterwards

 private:
  void Block(const unsigned char* block);
  std::array<uint32_t, 8> h_;
  std::array<unsigned char, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace farm::sd
