// The hashes Stable Diffusion front ends and kohya sd-scripts use to name model files
// (sd-scripts library/train_util.py, commit 48d368fa):
//
//   LoRA (sd-webui-additional-networks, stored by kohya as sshs_model_hash and
//   sshs_legacy_hash): the SHA-256 of everything after the 8 + N byte header, and the
//   first 8 hex digits of the SHA-256 of the 0x10000 bytes at offset 0x100000, both of
//   the file Python's `safetensors.torch.save` makes from the tensors and ONLY the ss_*
//   metadata (so that editing user metadata later does not change them).
//
//   Checkpoint (AUTOMATIC1111 webui, stored by kohya as ss_new_sd_model_hash and
//   ss_sd_model_hash): the SHA-256 of the whole file (the webui prints its first 10 hex
//   digits as the "short hash") and the legacy 8-hex "model hash" of the 0x10000 bytes at
//   offset 0x100000.
//
// As in Python, a file shorter than 0x100000 bytes has the legacy hash of no bytes
// ("e3b0c442"), and a header length past the end hashes no bytes.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "farm/schemas/status.h"
#include "farm/sd/tensor_map.h"

namespace farm::sd {

inline constexpr uint64_t kLegacyHashOffset = 0x100000;
inline constexpr uint64_t kLegacyHashLength = 0x10000;

struct KohyaLoraHashes {
  std::string model_hash;   // sshs_model_hash: 64 hex digits
  std::string legacy_hash;  // sshs_legacy_hash: 8 hex digits
};

// addnet_hash_safetensors and addnet_hash_legacy of a serialized safetensors file.
KohyaLoraHashes AddnetHashes(std::string_view file_bytes);

// precalculate_safetensors_hashes(tensors, metadata): the hashes of `tensors` laid out
// as Python would with only the ss_* entries of `metadata`. Streams the serialization
// (no copy of the file in memory). Errors are those of StreamSafetensors.
StatusOr<KohyaLoraHashes> PrecalculateSafetensorsHashes(const TensorMap& tensors,
                                                        const std::map<std::string, std::string>& metadata);

struct WebuiModelHashes {
  std::string sha256;       // calculate_sha256: ss_new_sd_model_hash
  std::string short_hash;   // the first 10 hex digits of sha256, as the webui shows it
  std::string legacy_hash;  // model_hash: ss_sd_model_hash
};

// Reads the whole file (a checkpoint is gigabytes: callers that already know its
// SHA-256, such as the agent's model index, can call WebuiLegacyModelHash alone).
StatusOr<WebuiModelHashes> WebuiModelHashesOfFile(const std::string& path);

// model_hash(path): reads only the 0x10000 bytes at 0x100000.
StatusOr<std::string> WebuiLegacyModelHash(const std::string& path);

}  // namespace farm::sd
