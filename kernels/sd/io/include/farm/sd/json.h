// A strict JSON reader for the engine's own inputs: safetensors headers, tokenizer
// vocabularies, model configs. The engine builds with only libtorch and the standard
// library, so it carries this small reader instead of a JSON package.
//
// Strict means: one value, nothing after it but whitespace; no duplicate keys in an
// object (a hostile safetensors header could otherwise name a tensor twice); nesting
// at most 64 deep. Errors say "line L, column C: <what was expected>".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::sd {

class Json {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  using Member = std::pair<std::string, Json>;

  static StatusOr<Json> Parse(std::string_view text);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool boolean() const { return bool_; }
  double number() const { return number_; }
  // The number as an exact integer, when its text is one (no fraction or exponent)
  // and it fits; file offsets must not pass through a double.
  std::optional<int64_t> AsInt64() const;
  // Strings hold the decoded UTF-8 text; numbers hold their source text.
  const std::string& text() const { return text_; }
  const std::vector<Json>& items() const { return items_; }
  // Object members in file order.
  const std::vector<Member>& members() const { return members_; }
  // The member named `key`, or nullptr (also when this is not an object).
  const Json* Find(std::string_view key) const;

  // One-word name of a type ("object", "string", ...) for error messages.
  static const char* TypeName(Type type);

 private:
  friend class JsonParser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string text_;
  std::vector<Json> items_;
  std::vector<Member> members_;
};

}  // namespace farm::sd
