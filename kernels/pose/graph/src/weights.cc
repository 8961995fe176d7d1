#include "weights.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace farm::pose::internal {
namespace {

using nlohmann::json;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tfjs weight shards are little-endian");

constexpr uintmax_t kMaxShardBytes = uintmax_t{2} << 30;
constexpr int64_t kMaxElements = int64_t{1} << 36;

enum class Stored { kFloat32, kInt32, kFloat16, kUint8, kUint16, kBool };

struct Spec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t numel = 1;
  bool is_int32 = false;
  bool is_bool = false;
  Stored stored = Stored::kFloat32;
  double scale = 1, min = 0;
  bool affine = false;  // uint8/uint16: value = q * scale + min
};

size_t StoredBytes(Stored s) {
  switch (s) {
    case Stored::kUint8:
    case Stored::kBool:
      return 1;
    case Stored::kFloat16:
    case Stored::kUint16:
      return 2;
    default:
      return 4;
  }
}

bool IsSafeRelativePath(const std::string& path) {
  const std::filesystem::path p(path);
  if (p.is_absolute() || p.has_root_name()) return false;
  for (const auto& part : p) {
    if (part == "..") return false;
  }
  return true;
}

StatusOr<std::string> ReadShard(const std::filesystem::path& path, const std::string& origin) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFound(origin + ": weights file " + path.string() + " not found");
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return Unavailable(origin + ": cannot stat " + path.string() + ": " + ec.message());
  if (size > kMaxShardBytes)
    return InvalidArgument(origin + ": weights file " + path.string() + " is too large");
  std::ifstream in(path, std::ios::binary);
  std::string bytes(static_cast<size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (!in || in.gcount() != static_cast<std::streamsize>(size)) {
    return DataLoss(origin + ": cannot read weights file " + path.string());
  }
  return bytes;
}

StatusOr<Spec> ParseSpec(const json& w, const std::string& where) {
  Spec spec;
  if (!w.is_object() || !w.contains("name") || !w["name"].is_string()) {
    return InvalidArgument(where + ": a weight needs a string \"name\"");
  }
  spec.name = w["name"].get<std::string>();
  const std::string at = where + " (\"" + spec.name + "\")";
  if (!w.contains("shape") || !w["shape"].is_array())
    return InvalidArgument(at + ": \"shape\" must be an array");
  for (const json& d : w["shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) {
      return InvalidArgument(at + ": shape entries must be non-negative integers");
    }
    spec.shape.push_back(d.get<int64_t>());
    if (spec.shape.back() > 0 && spec.numel > kMaxElements / spec.shape.back()) {
      return InvalidArgument(at + ": shape is too large");
    }
    spec.numel *= spec.shape.back();
  }
  const std::string dtype = w.value("dtype", std::string("float32"));
  if (dtype == "float32") {
    spec.stored = Stored::kFloat32;
  } else if (dtype == "int32") {
    spec.is_int32 = true;
    spec.stored = Stored::kInt32;
  } else if (dtype == "bool") {
    spec.is_bool = true;
    spec.stored = Stored::kBool;
  } else {
    return InvalidArgument(at + ": unsupported dtype \"" + dtype +
                           "\" (expected float32, int32 or bool)");
  }
  if (w.contains("quantization") && !w["quantization"].is_null()) {
    const json& q = w["quantization"];
    const std::string qtype = q.is_object() ? q.value("dtype", std::string()) : std::string();
    if (qtype == "float16") {
      spec.stored = Stored::kFloat16;
    } else if (qtype == "uint8" || qtype == "uint16") {
      spec.stored = qtype == "uint8" ? Stored::kUint8 : Stored::kUint16;
      if (!q.contains("scale") || !q["scale"].is_number() || !q.contains("min") ||
          !q["min"].is_number()) {
        return InvalidArgument(at + ": " + qtype +
                               " quantization needs numeric \"scale\" and \"min\"");
      }
      spec.scale = q["scale"].get<double>();
      spec.min = q["min"].get<double>();
      if (!std::isfinite(spec.scale) || !std::isfinite(spec.min)) {
        return InvalidArgument(at + ": quantization scale/min are not finite");
      }
      spec.affine = true;
    } else {
      return InvalidArgument(at + ": unsupported quantization dtype \"" + qtype +
                             "\" (expected float16, uint8 or uint16)");
    }
  }
  return spec;
}

template <typename T>
T Read(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

at::Tensor Decode(const Spec& spec, const char* data) {
  if (spec.stored == Stored::kFloat16) {
    at::Tensor half = at::empty(spec.shape, at::kHalf);
    std::memcpy(half.data_ptr(), data, static_cast<size_t>(spec.numel) * 2);
    return half.to(at::kFloat);  // exact
  }
  const at::ScalarType type = spec.is_bool ? at::kBool : spec.is_int32 ? at::kInt : at::kFloat;
  at::Tensor out = at::empty(spec.shape, type);
  if (!spec.affine && StoredBytes(spec.stored) == static_cast<size_t>(out.element_size())) {
    std::memcpy(out.data_ptr(), data, static_cast<size_t>(spec.numel) * StoredBytes(spec.stored));
    return out;
  }
  std::vector<double> values(static_cast<size_t>(spec.numel));
  for (int64_t i = 0; i < spec.numel; ++i) {
    const double q = spec.stored == Stored::kUint16 ? Read<uint16_t>(data + 2 * i)
                                                    : static_cast<uint8_t>(data[i]);
    values[static_cast<size_t>(i)] = spec.affine ? q * spec.scale + spec.min : q;
  }
  if (type == at::kFloat) {
    float* dst = out.data_ptr<float>();
    for (int64_t i = 0; i < spec.numel; ++i)
      dst[i] = static_cast<float>(values[static_cast<size_t>(i)]);
  } else if (type == at::kInt) {
    int32_t* dst = out.data_ptr<int32_t>();
    for (int64_t i = 0; i < spec.numel; ++i)
      dst[i] = static_cast<int32_t>(std::floor(values[static_cast<size_t>(i)] + 0.5));
  } else {
    bool* dst = out.data_ptr<bool>();
    for (int64_t i = 0; i < spec.numel; ++i) dst[i] = values[static_cast<size_t>(i)] != 0;
  }
  return out;
}

}  // namespace

StatusOr<std::map<std::string, at::Tensor>> LoadWeights(const json& manifest,
                                                        const std::string& folder,
                                                        const std::string& origin) {
  std::map<std::string, at::Tensor> weights;
  if (manifest.is_null()) return weights;
  if (!manifest.is_array())
    return InvalidArgument(origin + ": weightsManifest must be an array of groups");
  for (size_t g = 0; g < manifest.size(); ++g) {
    const json& group = manifest[g];
    const std::string where = origin + ": weightsManifest group " + std::to_string(g);
    if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() ||
        !group.contains("weights") || !group["weights"].is_array()) {
      return InvalidArgument(where + ": a group needs \"paths\" and \"weights\" arrays");
    }
    std::string bytes;
    std::string files;
    for (const json& path : group["paths"]) {
      if (!path.is_string() || !IsSafeRelativePath(path.get<std::string>())) {
        return InvalidArgument(where +
                               ": shard paths must be relative paths inside the model folder");
      }
      const std::filesystem::path file = std::filesystem::path(folder) / path.get<std::string>();
      FARM_ASSIGN_OR_RETURN(std::string shard, ReadShard(file, origin));
      bytes += shard;
      files += (files.empty() ? "" : ", ") + file.string();
    }
    size_t offset = 0;
    for (size_t i = 0; i < group["weights"].size(); ++i) {
      FARM_ASSIGN_OR_RETURN(
          Spec spec, ParseSpec(group["weights"][i], where + ", weight " + std::to_string(i)));
      const size_t need = static_cast<size_t>(spec.numel) * StoredBytes(spec.stored);
      if (need > bytes.size() - offset) {
        return DataLoss(origin + ": weights file " + files + " is too short: tensor \"" +
                        spec.name + "\" needs bytes [" + std::to_string(offset) + ", " +
                        std::to_string(offset + need) + ") but the file holds " +
                        std::to_string(bytes.size()) + " bytes");
      }
      try {
        weights[spec.name] = Decode(spec, bytes.data() + offset);
      } catch (const std::exception& e) {
        return Internal(origin + ": cannot decode weight \"" + spec.name + "\": " + e.what());
      }
      offset += need;
    }
  }
  return weights;
}

}  // namespace farm::pose::internal
