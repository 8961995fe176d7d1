#include "tfjs_manifest.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "farm/sd/json.h"

namespace farm::faceid::internal {
namespace {

using farm::sd::Json;

// No single tensor of these models comes near this; a larger count is corruption.
constexpr uint64_t kMaxElements = uint64_t{1} << 40;

std::string Where(const std::string& origin, size_t group, size_t weight) {
  return origin + ": group " + std::to_string(group) + ", weight " + std::to_string(weight);
}

StatusOr<double> FiniteNumber(const Json& object, const char* key, const std::string& where) {
  const Json* value = object.Find(key);
  if (!value || !value->is_number()) {
    return InvalidArgument(where + ": quantization." + key + " must be a number");
  }
  if (!std::isfinite(value->number())) {
    return InvalidArgument(where + ": quantization." + key + " is not finite");
  }
  return value->number();
}

Status ParseQuantization(const Json& q, const std::string& where, TensorSpec& spec) {
  if (!q.is_object()) return InvalidArgument(where + ": quantization must be an object");
  const Json* dtype = q.Find("dtype");
  if (!dtype || !dtype->is_string()) {
    return InvalidArgument(where + ": quantization.dtype must be a string");
  }
  if (dtype->text() == "uint8") {
    spec.stored = StoredType::kUint8;
  } else if (dtype->text() == "uint16") {
    spec.stored = StoredType::kUint16;
  } else {
    return InvalidArgument(where + ": unsupported quantization dtype \"" + dtype->text() +
                           "\" (expected uint8 or uint16)");
  }
  FARM_ASSIGN_OR_RETURN(spec.scale, FiniteNumber(q, "scale", where));
  FARM_ASSIGN_OR_RETURN(spec.min, FiniteNumber(q, "min", where));
  spec.quantized = true;
  return Status::Ok();
}

StatusOr<TensorSpec> ParseWeight(const Json& w, const std::string& where_in) {
  if (!w.is_object()) return InvalidArgument(where_in + ": expected an object");
  TensorSpec spec;
  const Json* name = w.Find("name");
  if (!name || !name->is_string() || name->text().empty()) {
    return InvalidArgument(where_in + ": \"name\" must be a non-empty string");
  }
  spec.name = name->text();
  const std::string where = where_in + " (\"" + spec.name + "\")";

  const Json* shape = w.Find("shape");
  if (!shape || !shape->is_array()) return InvalidArgument(where + ": \"shape\" must be an array");
  if (shape->items().size() > 8) return InvalidArgument(where + ": shape has more than 8 dimensions");
  uint64_t numel = 1;
  uint64_t extent = 1;  // product of max(dim, 1): bounds the strides of an empty tensor too
  for (const Json& dim : shape->items()) {
    std::optional<int64_t> d = dim.is_number() ? dim.AsInt64() : std::nullopt;
    if (!d || *d < 0) {
      return InvalidArgument(where + ": shape entries must be non-negative integers");
    }
    const uint64_t size = static_cast<uint64_t>(*d);
    if (__builtin_mul_overflow(extent, std::max<uint64_t>(size, 1), &extent) || extent > kMaxElements) {
      return InvalidArgument(where + ": shape is too large (element count overflows)");
    }
    numel *= size;  // <= extent
    spec.shape.push_back(*d);
  }
  spec.numel = static_cast<int64_t>(numel);

  const Json* dtype = w.Find("dtype");
  if (!dtype || !dtype->is_string()) return InvalidArgument(where + ": \"dtype\" must be a string");
  if (dtype->text() == "float32") {
    spec.stored = StoredType::kFloat32;
  } else if (dtype->text() == "int32") {
    spec.is_int32 = true;
    spec.stored = StoredType::kInt32;
  } else {
    return InvalidArgument(where + ": unknown dtype \"" + dtype->text() +
                           "\" (expected float32 or int32)");
  }
  if (const Json* q = w.Find("quantization"); q && !q->is_null()) {
    FARM_RETURN_IF_ERROR(ParseQuantization(*q, where, spec));
  }
  const uint64_t element_bytes = spec.stored == StoredType::kUint8    ? 1
                                 : spec.stored == StoredType::kUint16 ? 2
                                                                      : 4;
  spec.byte_size = numel * element_bytes;  // numel <= 2^40: no overflow
  return spec;
}

}  // namespace

StatusOr<std::vector<ManifestGroup>> ParseTfjsManifest(std::string_view json, const std::string& origin) {
  StatusOr<Json> parsed = Json::Parse(json);
  if (!parsed.ok()) return parsed.status().WithContext(origin + ": weights manifest");
  const Json& root = parsed.value();
  if (!root.is_array()) {
    return InvalidArgument(origin + ": weights manifest must be a JSON array of groups, found " +
                           Json::TypeName(root.type()));
  }
  std::vector<ManifestGroup> groups;
  std::unordered_set<std::string> seen;
  for (size_t g = 0; g < root.items().size(); ++g) {
    const Json& group_json = root.items()[g];
    const std::string where = origin + ": group " + std::to_string(g);
    if (!group_json.is_object()) return InvalidArgument(where + ": expected an object");
    ManifestGroup group;
    const Json* paths = group_json.Find("paths");
    if (!paths || !paths->is_array()) return InvalidArgument(where + ": \"paths\" must be an array");
    for (const Json& path : paths->items()) {
      if (!path.is_string() || path.text().empty()) {
        return InvalidArgument(where + ": \"paths\" entries must be non-empty strings");
      }
      group.paths.push_back(path.text());
    }
    const Json* weights = group_json.Find("weights");
    if (!weights || !weights->is_array()) {
      return InvalidArgument(where + ": \"weights\" must be an array");
    }
    for (size_t i = 0; i < weights->items().size(); ++i) {
      FARM_ASSIGN_OR_RETURN(TensorSpec spec, ParseWeight(weights->items()[i], Where(origin, g, i)));
      if (!seen.insert(spec.name).second) {
        return InvalidArgument(Where(origin, g, i) + ": duplicate tensor name \"" + spec.name + "\"");
      }
      if (__builtin_add_overflow(group.byte_size, spec.byte_size, &group.byte_size)) {
        return InvalidArgument(Where(origin, g, i) + ": total byte size overflows");
      }
      group.weights.push_back(std::move(spec));
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

}  // namespace farm::faceid::internal
