// Const values written inline in model.json (tfjs-converter moves them into the weights,
// but hand-written or other converters' graphs keep them in the node).
#include <cstring>

#include "graph_impl.h"

namespace farm::pose::internal {

StatusOr<at::Tensor> ConstFromAttr(const Node& node, const std::string& origin) {
  const std::string where = origin + ": Const \"" + node.name + "\"";
  const AttrValue* value = node.Attr("value");
  if (!value || !value->tensor || !value->tensor->is_object()) {
    return InvalidArgument(where + " has no value tensor and is not in the weights manifest");
  }
  const nlohmann::json& t = *value->tensor;
  const DataType dtype = DataTypeFromName(t.value("dtype", std::string()));
  std::vector<int64_t> shape;
  if (t.contains("tensorShape") && t["tensorShape"].is_object() &&
      t["tensorShape"].contains("dim")) {
    for (const auto& dim : t["tensorShape"]["dim"]) {
      const auto& size = dim.contains("size") ? dim["size"] : nlohmann::json(0);
      int64_t n = size.is_string()   ? std::atoll(size.get<std::string>().c_str())
                  : size.is_number() ? size.get<int64_t>()
                                     : -1;
      if (n < 0) return InvalidArgument(where + ": bad tensorShape");
      shape.push_back(n);
    }
  }
  at::ScalarType type;
  size_t element = 4;
  switch (dtype) {
    case DataType::kFloat:
      type = at::kFloat;
      break;
    case DataType::kInt32:
      type = at::kInt;
      break;
    case DataType::kBool:
      type = at::kBool;
      element = 1;
      break;
    default:
      return InvalidArgument(where + ": unsupported dtype " +
                             t.value("dtype", std::string("(none)")));
  }
  at::Tensor out = at::zeros(shape, type);
  const size_t numel = static_cast<size_t>(out.numel());
  if (t.contains("tensorContent")) {
    std::optional<std::string> bytes = t["tensorContent"].is_string()
                                           ? DecodeBase64(t["tensorContent"].get<std::string>())
                                           : std::nullopt;
    if (!bytes) return InvalidArgument(where + ": tensorContent is not base64");
    if (bytes->size() != numel * element) {
      return InvalidArgument(where + ": tensorContent holds " + std::to_string(bytes->size()) +
                             " bytes, the shape needs " + std::to_string(numel * element));
    }
    std::memcpy(out.data_ptr(), bytes->data(), bytes->size());
    return out;
  }
  const char* field = type == at::kFloat ? "floatVal" : type == at::kInt ? "intVal" : "boolVal";
  if (!t.contains(field)) return out;  // TF: no values means zeros
  const auto& values = t[field];
  if (!values.is_array() || values.empty() || (values.size() != 1 && values.size() != numel)) {
    return InvalidArgument(where + ": " + field + " must hold 1 or " + std::to_string(numel) +
                           " values");
  }
  for (size_t i = 0; i < numel; ++i) {
    const auto& v = values[values.size() == 1 ? 0 : i];
    if (type == at::kFloat) {
      if (!v.is_number()) return InvalidArgument(where + ": floatVal entries must be numbers");
      out.data_ptr<float>()[i] = v.get<float>();
    } else if (type == at::kInt) {
      if (!v.is_number_integer())
        return InvalidArgument(where + ": intVal entries must be integers");
      out.data_ptr<int32_t>()[i] = v.get<int32_t>();
    } else {
      if (!v.is_boolean()) return InvalidArgument(where + ": boolVal entries must be booleans");
      out.data_ptr<bool>()[i] = v.get<bool>();
    }
  }
  return out;
}

}  // namespace farm::pose::internal
