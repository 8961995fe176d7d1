// The parsed model.json topology: nodes with their inputs and attributes, as plain data
// (no libtorch). Attribute values keep the JSON's meaning: tfjs-converter writes
// int64s as strings, `s` as base64, `list` as {i:[...], f:[...], s:[...]}.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::pose::internal {

// TF DataType names this interpreter knows ("DT_FLOAT", ...), as a small enum.
enum class DataType { kInvalid, kFloat, kInt32, kBool, kUint8, kInt64, kHalf, kVariant, kString };
DataType DataTypeFromName(const std::string& name);
const char* DataTypeName(DataType type);

struct AttrValue {
  std::optional<int64_t> i;
  std::optional<double> f;
  std::optional<bool> b;
  std::optional<std::string> s;  // decoded from base64
  std::optional<DataType> type;
  std::optional<std::vector<int64_t>> shape;  // -1 for unknown dims
  bool has_list = false;
  std::vector<int64_t> list_i;
  std::vector<double> list_f;
  std::vector<std::string> list_s;  // decoded
  std::vector<DataType> list_type;
  const nlohmann::json* tensor = nullptr;  // `tensor` (Const values), points into Graph::json
};

struct InputRef {
  int node = -1;         // index into Graph::nodes
  int index = 0;         // output index ("name:1")
  bool control = false;  // "^name": an ordering edge, no value
};

struct Node {
  std::string name;
  std::string op;
  std::vector<InputRef> inputs;  // data inputs first in model order; control ones flagged
  std::map<std::string, AttrValue> attrs;

  const AttrValue* Attr(const std::string& key) const;
  // Typed getters with a default when the attribute is absent.
  int64_t Int(const std::string& key, int64_t fallback) const;
  double Float(const std::string& key, double fallback) const;
  bool Bool(const std::string& key, bool fallback) const;
  std::string String(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> Ints(const std::string& key) const;
  std::vector<std::string> Strings(const std::string& key) const;
  DataType Type(const std::string& key, DataType fallback) const;
  int DataInputCount() const;
};

struct Graph {
  std::vector<Node> nodes;
  std::map<std::string, int> index;  // name -> node
  std::vector<int> placeholders;
  std::shared_ptr<const nlohmann::json> json;  // keeps AttrValue::tensor alive
  nlohmann::json weights_manifest;

  const Node* Find(const std::string& name) const;
};

// Parses model.json's text. `origin` (the file name) prefixes every error.
StatusOr<Graph> ParseGraph(const std::string& text, const std::string& origin);

// Base64 (standard alphabet, '=' padding optional); nullopt when malformed.
std::optional<std::string> DecodeBase64(const std::string& text);

}  // namespace farm::pose::internal
