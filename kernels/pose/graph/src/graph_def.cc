#include "graph_def.h"

#include <algorithm>
#include <cstdlib>

namespace farm::pose::internal {
namespace {

using nlohmann::json;

const std::pair<const char*, DataType> kTypeNames[] = {
    {"DT_FLOAT", DataType::kFloat},     {"DT_INT32", DataType::kInt32},
    {"DT_BOOL", DataType::kBool},       {"DT_UINT8", DataType::kUint8},
    {"DT_INT64", DataType::kInt64},     {"DT_HALF", DataType::kHalf},
    {"DT_VARIANT", DataType::kVariant}, {"DT_STRING", DataType::kString},
};

// tfjs-converter writes int64 fields as decimal strings; plain numbers are accepted too.
std::optional<int64_t> JsonInt(const json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    char* end = nullptr;
    const long long parsed = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end == s.c_str() + s.size()) return parsed;
  }
  return std::nullopt;
}

std::optional<double> JsonDouble(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {  // "NaN", "Infinity" and friends
    const std::string& s = v.get_ref<const std::string&>();
    char* end = nullptr;
    const double parsed = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size()) return parsed;
  }
  return std::nullopt;
}

Status ParseShape(const json& shape, std::vector<int64_t>& out, const std::string& where) {
  out.clear();
  if (!shape.is_object()) return InvalidArgument(where + ": shape must be an object");
  if (shape.contains("unknownRank") && shape["unknownRank"] == true) return Status::Ok();
  if (!shape.contains("dim")) return Status::Ok();
  for (const json& dim : shape["dim"]) {
    std::optional<int64_t> size =
        dim.contains("size") ? JsonInt(dim["size"]) : std::optional<int64_t>(0);
    if (!size) return InvalidArgument(where + ": shape dim size must be an integer");
    out.push_back(*size);
  }
  return Status::Ok();
}

Status ParseAttr(const json& value, AttrValue& attr, const std::string& where) {
  if (!value.is_object()) return InvalidArgument(where + ": expected an object");
  if (value.contains("i")) {
    attr.i = JsonInt(value["i"]);
    if (!attr.i) return InvalidArgument(where + ": \"i\" must be an integer");
  }
  if (value.contains("f")) {
    attr.f = JsonDouble(value["f"]);
    if (!attr.f) return InvalidArgument(where + ": \"f\" must be a number");
  }
  if (value.contains("b")) {
    if (!value["b"].is_boolean()) return InvalidArgument(where + ": \"b\" must be a boolean");
    attr.b = value["b"].get<bool>();
  }
  if (value.contains("s")) {
    if (!value["s"].is_string()) return InvalidArgument(where + ": \"s\" must be a base64 string");
    attr.s = DecodeBase64(value["s"].get<std::string>());
    if (!attr.s) return InvalidArgument(where + ": \"s\" is not valid base64");
  }
  if (value.contains("type")) {
    if (!value["type"].is_string()) return InvalidArgument(where + ": \"type\" must be a string");
    attr.type = DataTypeFromName(value["type"].get<std::string>());
  }
  if (value.contains("shape")) {
    std::vector<int64_t> shape;
    FARM_RETURN_IF_ERROR(ParseShape(value["shape"], shape, where));
    attr.shape = std::move(shape);
  }
  if (value.contains("tensor")) attr.tensor = &value["tensor"];
  if (value.contains("list")) {
    const json& list = value["list"];
    if (!list.is_object()) return InvalidArgument(where + ": \"list\" must be an object");
    attr.has_list = true;
    for (const json& v : list.value("i", json::array())) {
      std::optional<int64_t> i = JsonInt(v);
      if (!i) return InvalidArgument(where + ": list.i entries must be integers");
      attr.list_i.push_back(*i);
    }
    for (const json& v : list.value("f", json::array())) {
      std::optional<double> f = JsonDouble(v);
      if (!f) return InvalidArgument(where + ": list.f entries must be numbers");
      attr.list_f.push_back(*f);
    }
    for (const json& v : list.value("s", json::array())) {
      std::optional<std::string> s =
          v.is_string() ? DecodeBase64(v.get<std::string>()) : std::nullopt;
      if (!s) return InvalidArgument(where + ": list.s entries must be base64 strings");
      attr.list_s.push_back(*s);
    }
    for (const json& v : list.value("type", json::array())) {
      if (!v.is_string()) return InvalidArgument(where + ": list.type entries must be strings");
      attr.list_type.push_back(DataTypeFromName(v.get<std::string>()));
    }
  }
  return Status::Ok();
}

// "name", "name:1" or "^name" -> (name, index, control).
void SplitInputName(const std::string& text, std::string& name, int& index, bool& control) {
  control = !text.empty() && text[0] == '^';
  name = control ? text.substr(1) : text;
  index = 0;
  const size_t colon = name.rfind(':');
  if (colon != std::string::npos && colon + 1 < name.size() &&
      name.find_first_not_of("0123456789", colon + 1) == std::string::npos) {
    index = std::atoi(name.c_str() + colon + 1);
    name.resize(colon);
  }
}

}  // namespace

DataType DataTypeFromName(const std::string& name) {
  for (const auto& [text, type] : kTypeNames) {
    if (name == text) return type;
  }
  return DataType::kInvalid;
}

const char* DataTypeName(DataType type) {
  for (const auto& [text, t] : kTypeNames) {
    if (t == type) return text;
  }
  return "DT_INVALID";
}

std::optional<std::string> DecodeBase64(const std::string& text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] != '='; ++i) {
    const int v = value_of(text[i]);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  for (; i < text.size(); ++i) {
    if (text[i] != '=') return std::nullopt;
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character
  return out;
}

const AttrValue* Node::Attr(const std::string& key) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? nullptr : &it->second;
}
int64_t Node::Int(const std::string& key, int64_t fallback) const {
  const AttrValue* a = Attr(key);
  return a && a->i ? *a->i : fallback;
}
double Node::Float(const std::string& key, double fallback) const {
  const AttrValue* a = Attr(key);
  return a && a->f ? *a->f : fallback;
}
bool Node::Bool(const std::string& key, bool fallback) const {
  const AttrValue* a = Attr(key);
  return a && a->b ? *a->b : fallback;
}
std::string Node::String(const std::string& key, const std::string& fallback) const {
  const AttrValue* a = Attr(key);
  return a && a->s ? *a->s : fallback;
}
std::vector<int64_t> Node::Ints(const std::string& key) const {
  const AttrValue* a = Attr(key);
  return a ? a->list_i : std::vector<int64_t>{};
}
std::vector<std::string> Node::Strings(const std::string& key) const {
  const AttrValue* a = Attr(key);
  return a ? a->list_s : std::vector<std::string>{};
}
DataType Node::Type(const std::string& key, DataType fallback) const {
  const AttrValue* a = Attr(key);
  return a && a->type ? *a->type : fallback;
}
int Node::DataInputCount() const {
  int n = 0;
  for (const InputRef& in : inputs) n += in.control ? 0 : 1;
  return n;
}

const Node* Graph::Find(const std::string& name) const {
  auto it = index.find(name);
  return it == index.end() ? nullptr : &nodes[it->second];
}

StatusOr<Graph> ParseGraph(const std::string& text, const std::string& origin) {
  Graph graph;
  auto root = std::make_shared<json>();
  try {
    *root = json::parse(text);
  } catch (const std::exception& e) {
    return InvalidArgument(origin + ": malformed JSON: " + e.what());
  }
  graph.json = root;
  if (!root->is_object() || !root->contains("modelTopology") ||
      !(*root)["modelTopology"].is_object()) {
    return InvalidArgument(origin + ": not a tfjs graph model (no \"modelTopology\" object)");
  }
  const json& topology = (*root)["modelTopology"];
  if (topology.contains("library") && topology["library"].is_object() &&
      !topology["library"].value("function", json::array()).empty()) {
    return InvalidArgument(origin +
                           ": the graph uses library functions (TF2 control flow), which this "
                           "interpreter does not run; convert with control flow v1");
  }
  if (!topology.contains("node") || !topology["node"].is_array()) {
    return InvalidArgument(origin + ": modelTopology has no \"node\" array");
  }
  if (root->contains("weightsManifest")) graph.weights_manifest = (*root)["weightsManifest"];
  const json& nodes = topology["node"];
  std::vector<std::vector<std::string>> input_names(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    const json& j = nodes[n];
    const std::string where = origin + ": node " + std::to_string(n);
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || !j.contains("op") ||
        !j["op"].is_string()) {
      return InvalidArgument(where + ": a node needs string \"name\" and \"op\"");
    }
    Node node;
    node.name = j["name"].get<std::string>();
    node.op = j["op"].get<std::string>();
    const std::string node_where = origin + ": node \"" + node.name + "\" (" + node.op + ")";
    if (j.contains("input")) {
      if (!j["input"].is_array())
        return InvalidArgument(node_where + ": \"input\" must be an array");
      for (const json& in : j["input"]) {
        if (!in.is_string()) return InvalidArgument(node_where + ": inputs must be strings");
        input_names[n].push_back(in.get<std::string>());
      }
    }
    if (j.contains("attr")) {
      if (!j["attr"].is_object())
        return InvalidArgument(node_where + ": \"attr\" must be an object");
      for (const auto& [key, value] : j["attr"].items()) {
        AttrValue attr;
        FARM_RETURN_IF_ERROR(ParseAttr(value, attr, node_where + ", attr \"" + key + "\""));
        node.attrs.emplace(key, std::move(attr));
      }
    }
    if (!graph.index.emplace(node.name, static_cast<int>(n)).second) {
      return InvalidArgument(origin + ": duplicate node name \"" + node.name + "\"");
    }
    if (node.op == "Placeholder") graph.placeholders.push_back(static_cast<int>(n));
    graph.nodes.push_back(std::move(node));
  }
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    Node& node = graph.nodes[n];
    for (const std::string& text : input_names[n]) {
      InputRef ref;
      std::string name;
      SplitInputName(text, name, ref.index, ref.control);
      auto it = graph.index.find(name);
      if (it == graph.index.end()) {
        return InvalidArgument(origin + ": node \"" + node.name + "\" (" + node.op + ") reads \"" +
                               text + "\", which is not a node of the graph");
      }
      ref.node = it->second;
      node.inputs.push_back(ref);
    }
    // Data inputs keep their order; control edges go last so argument i is input i.
    std::stable_partition(node.inputs.begin(), node.inputs.end(),
                          [](const InputRef& r) { return !r.control; });
  }
  return graph;
}

}  // namespace farm::pose::internal
