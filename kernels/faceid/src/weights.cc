#include "farm/faceid/weights.h"

#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>

#include "tfjs_manifest.h"

namespace farm::faceid {
namespace {

// (The compiler macro rather than std::endian: this file also builds as C++17, for the
// clang libFuzzer build, whose C++20 mode cannot parse libtorch 1.13 headers.)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "tfjs weight shards are little-endian; this reader copies bytes as they are");

using internal::ManifestGroup;
using internal::StoredType;
using internal::TensorSpec;

// Manifests are a few tens of kB; shards of these models a few MB.
constexpr uintmax_t kMaxManifestBytes = 64u << 20;
constexpr uintmax_t kMaxShardBytes = uintmax_t{4} << 30;

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

StatusOr<std::string> ReadWholeFile(const std::filesystem::path& path, uintmax_t max_bytes,
                                    const char* what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFound(std::string(what) + " not found: " + path.string());
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return Unavailable("cannot stat " + path.string() + ": " + ec.message());
  if (size > max_bytes) {
    return InvalidArgument(path.string() + ": " + what + " is " + std::to_string(size) +
                           " bytes, more than the limit of " + std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unavailable("cannot open " + path.string());
  std::string bytes(static_cast<size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (in.gcount() != static_cast<std::streamsize>(size)) {
    return DataLoss(path.string() + ": short read (" + std::to_string(in.gcount()) + " of " +
                    std::to_string(size) + " bytes)");
  }
  return bytes;
}

// A shard path must stay inside the manifest's folder.
bool IsSafeRelativePath(const std::string& path) {
  const std::filesystem::path p(path);
  if (p.is_absolute() || p.has_root_name()) return false;
  for (const auto& part : p) {
    if (part == "..") return false;
  }
  return true;
}

template <typename T>
T ReadLe(const char* data) {
  T value;
  std::memcpy(&value, data, sizeof value);
  return value;
}

// JavaScript's Math.round: halves round up (towards +infinity).
double JsRound(double v) { return std::floor(v + 0.5); }

at::Tensor Decode(const TensorSpec& spec, const char* data) {
  at::Tensor out = at::empty(spec.shape, at::TensorOptions().dtype(at::kFloat));
  float* dst = out.data_ptr<float>();
  for (int64_t i = 0; i < spec.numel; ++i) {
    double q = 0;
    switch (spec.stored) {
      case StoredType::kUint8: q = static_cast<uint8_t>(data[i]); break;
      case StoredType::kUint16: q = ReadLe<uint16_t>(data + 2 * i); break;
      case StoredType::kInt32: q = ReadLe<int32_t>(data + 4 * i); break;
      case StoredType::kFloat32: q = ReadLe<float>(data + 4 * i); break;
    }
    if (spec.quantized) {
      const double v = q * spec.scale + spec.min;
      dst[i] = static_cast<float>(spec.is_int32 ? JsRound(v) : v);
    } else {
      dst[i] = static_cast<float>(q);
    }
  }
  return out;
}

}  // namespace

StatusOr<TfjsWeights> TfjsWeights::Parse(std::string_view manifest_json,
                                         std::string_view shard_bytes_concatenated,
                                         const std::string& origin) {
  FARM_ASSIGN_OR_RETURN(std::vector<ManifestGroup> groups,
                        internal::ParseTfjsManifest(manifest_json, origin));
  TfjsWeights weights;
  weights.origin_ = origin;
  uint64_t offset = 0;
  for (const ManifestGroup& group : groups) {
    for (const TensorSpec& spec : group.weights) {
      if (spec.byte_size > shard_bytes_concatenated.size() - offset) {
        return DataLoss(origin + ": tensor \"" + spec.name + "\" " + ShapeText(spec.shape) +
                        " needs bytes [" + std::to_string(offset) + ", " +
                        std::to_string(offset + spec.byte_size) + ") but the shards hold only " +
                        std::to_string(shard_bytes_concatenated.size()) + " bytes");
      }
      try {
        weights.tensors_.emplace(spec.name, Decode(spec, shard_bytes_concatenated.data() + offset));
      } catch (const std::exception& e) {  // allocation failure inside libtorch
        return Internal(origin + ": cannot allocate tensor \"" + spec.name + "\": " + e.what());
      }
      weights.names_.push_back(spec.name);
      offset += spec.byte_size;
    }
  }
  if (offset != shard_bytes_concatenated.size()) {
    return DataLoss(origin + ": the manifest describes " + std::to_string(offset) +
                    " bytes of weights but the shards hold " +
                    std::to_string(shard_bytes_concatenated.size()));
  }
  return weights;
}

StatusOr<TfjsWeights> TfjsWeights::Load(const std::string& manifest_path) {
  FARM_ASSIGN_OR_RETURN(std::string manifest,
                        ReadWholeFile(manifest_path, kMaxManifestBytes, "weights manifest"));
  FARM_ASSIGN_OR_RETURN(std::vector<ManifestGroup> groups,
                        internal::ParseTfjsManifest(manifest, manifest_path));
  const std::filesystem::path folder = std::filesystem::path(manifest_path).parent_path();
  std::string all_bytes;
  for (size_t g = 0; g < groups.size(); ++g) {
    uint64_t group_bytes = 0;
    for (const std::string& shard : groups[g].paths) {
      if (!IsSafeRelativePath(shard)) {
        return InvalidArgument(manifest_path + ": group " + std::to_string(g) + ": shard path \"" +
                               shard + "\" must be relative and stay inside the manifest's folder");
      }
      FARM_ASSIGN_OR_RETURN(std::string bytes,
                            ReadWholeFile(folder / shard, kMaxShardBytes, "weights shard"));
      group_bytes += bytes.size();
      all_bytes += bytes;
    }
    // tfjs reads each group's tensors from that group's shards only.
    if (group_bytes != groups[g].byte_size) {
      return DataLoss(manifest_path + ": group " + std::to_string(g) + " describes " +
                      std::to_string(groups[g].byte_size) + " bytes of weights but its shards hold " +
                      std::to_string(group_bytes));
    }
  }
  return Parse(manifest, all_bytes, manifest_path);
}

StatusOr<at::Tensor> TfjsWeights::GetAnyShape(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return NotFound(origin_ + ": no tensor named \"" + name + "\"");
  return it->second;
}

StatusOr<at::Tensor> TfjsWeights::Get(const std::string& name,
                                      const std::vector<int64_t>& expected_shape) const {
  FARM_ASSIGN_OR_RETURN(at::Tensor tensor, GetAnyShape(name));
  const std::vector<int64_t> actual(tensor.sizes().begin(), tensor.sizes().end());
  if (actual != expected_shape) {
    return InvalidArgument(origin_ + ": tensor \"" + name + "\" has shape " + ShapeText(actual) +
                           ", expected " + ShapeText(expected_shape));
  }
  return tensor;
}

}  // namespace farm::faceid
