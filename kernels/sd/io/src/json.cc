#include "farm/sd/json.h"

#include "farm/sd/utf8.h"

#include <charconv>
#include <cstdlib>
#include <unordered_set>

namespace farm::sd {
namespace {

constexpr int kMaxDepth = 64;

}  // namespace

// Recursive descent over the text; positions are turned into line:column only when an
// error is reported.
class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  StatusOr<Json> ParseDocument() {
    Json value;
    FARM_RETURN_IF_ERROR(ParseValue(value, 0));
    SkipSpace();
    if (pos_ != text_.size()) return Error("expected the end of the document");
    return value;
  }

 private:
  Status Error(const std::string& expected) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return InvalidArgument("JSON line " + std::to_string(line) + ", column " +
                           std::to_string(column) + ": " + expected);
  }

  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Status ParseValue(Json& out, int depth) {
    if (depth >= kMaxDepth) return Error("nesting deeper than 64 levels");
    SkipSpace();
    if (pos_ >= text_.size()) return Error("expected a value, found the end of the text");
    char c = text_[pos_];
    if (c == '{') return ParseObject(out, depth);
    if (c == '[') return ParseArray(out, depth);
    if (c == '"') {
      out.type_ = Json::Type::kString;
      return ParseString(out.text_);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(out);
    if (Consume("true")) {
      out.type_ = Json::Type::kBool;
      out.bool_ = true;
      return Status::Ok();
    }
    if (Consume("false")) {
      out.type_ = Json::Type::kBool;
      return Status::Ok();
    }
    if (Consume("null")) return Status::Ok();
    return Error("expected a value (object, array, string, number, true, false or null)");
  }

  Status ParseObject(Json& out, int depth) {
    out.type_ = Json::Type::kObject;
    ++pos_;  // '{'
    std::unordered_set<std::string> seen;
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return Status::Ok();
    }
    while (true) {
      SkipSpace();
      if (pos_ >= text_.size() || text_[pos_] != '"') return Error("expected a quoted key");
      size_t key_pos = pos_;
      std::string key;
      FARM_RETURN_IF_ERROR(ParseString(key));
      SkipSpace();
      if (pos_ >= text_.size() || text_[pos_] != ':') return Error("expected ':' after a key");
      ++pos_;
      Json value;
      FARM_RETURN_IF_ERROR(ParseValue(value, depth + 1));
      out.members_.emplace_back(std::move(key), std::move(value));
      if (!seen.insert(out.members_.back().first).second) {
        pos_ = key_pos;
        return Error("duplicate key \"" + out.members_.back().first + "\"");
      }
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        return Status::Ok();
      }
      return Error("expected ',' or '}' in an object");
    }
  }

  Status ParseArray(Json& out, int depth) {
    out.type_ = Json::Type::kArray;
    ++pos_;  // '['
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return Status::Ok();
    }
    while (true) {
      Json item;
      FARM_RETURN_IF_ERROR(ParseValue(item, depth + 1));
      out.items_.push_back(std::move(item));
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        return Status::Ok();
      }
      return Error("expected ',' or ']' in an array");
    }
  }

  Status ParseHex4(uint32_t& out) {
    if (pos_ + 4 > text_.size()) return Error("expected four hex digits after \\u");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      out <<= 4;
      if (c >= '0' && c <= '9') out |= c - '0';
      else if (c >= 'a' && c <= 'f') out |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') out |= c - 'A' + 10;
      else return Error("expected a hex digit in a \\u escape");
    }
    return Status::Ok();
  }

  Status ParseString(std::string& out) {
    ++pos_;  // opening quote
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return Status::Ok();
      }
      if (static_cast<unsigned char>(c) < 0x20) return Error("expected no control character inside a string");
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      if (++pos_ >= text_.size()) break;
      char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = 0;
          FARM_RETURN_IF_ERROR(ParseHex4(cp));
          if (cp >= 0xD800 && cp < 0xDC00) {  // high surrogate: a low one must follow
            uint32_t low = 0;
            if (!Consume("\\u")) return Error("expected a low surrogate after a high one");
            FARM_RETURN_IF_ERROR(ParseHex4(low));
            if (low < 0xDC00 || low >= 0xE000) return Error("expected a low surrogate (DC00-DFFF)");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            return Error("unexpected lone low surrogate");
          }
          AppendUtf8(static_cast<char32_t>(cp), out);
          break;
        }
        default:
          --pos_;
          return Error("unknown escape sequence");
      }
    }
    return Error("unterminated string");
  }

  Status ParseNumber(Json& out) {
    size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    auto digits = [&] {
      size_t before = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ > before;
    };
    if (!digits()) return Error("expected digits in a number");
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digits()) return Error("expected digits after '.'");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!digits()) return Error("expected digits in an exponent");
    }
    out.type_ = Json::Type::kNumber;
    out.text_ = std::string(text_.substr(start, pos_ - start));
    out.number_ = std::strtod(out.text_.c_str(), nullptr);
    return Status::Ok();
  }

  std::string_view text_;
  size_t pos_ = 0;
};

StatusOr<Json> Json::Parse(std::string_view text) { return JsonParser(text).ParseDocument(); }

std::optional<int64_t> Json::AsInt64() const {
  if (type_ != Type::kNumber) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), value);
  if (ec != std::errc() || end != text_.data() + text_.size()) return std::nullopt;
  return value;
}

const Json* Json::Find(std::string_view key) const {
  for (const auto& [name, value] : members_) {
    if (name == key) return &value;
  }
  return nullptr;
}

const char* Json::TypeName(Type type) {
  switch (type) {
    case Type::kNull: return "null";
    case Type::kBool: return "boolean";
    case Type::kNumber: return "number";
    case Type::kString: return "string";
    case Type::kArray: return "array";
    case Type::kObject: return "object";
  }
  return "value";
}

}  // namespace farm::sd
