#include "json_string.h"

#include <cstdint>
#include <cstdio>

#include "farm/schemas/utf8.h"

namespace farm::internal {
namespace {

std::optional<uint32_t> ReadHex4(std::string_view text, size_t pos) {
  if (text.size() < pos + 4) return std::nullopt;
  uint32_t value = 0;
  for (size_t i = pos; i < pos + 4; ++i) {
    const char c = text[i];
    value <<= 4;
    if (c >= '0' && c <= '9') {
      value |= static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      value |= static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      value |= static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
  }
  return value;
}

}  // namespace

std::string JsonQuote(std::string_view utf8) {
  std::string out = "\"";
  for (char c : utf8) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", static_cast<unsigned>(c));
          out += buffer;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::optional<std::string> JsonUnquote(std::string_view literal) {
  if (literal.size() < 2 || literal.front() != '"' || literal.back() != '"') return std::nullopt;
  std::string out;
  size_t i = 1;
  const size_t end = literal.size() - 1;  // the closing quote
  while (i < end) {
    const char c = literal[i];
    if (c == '"') return std::nullopt;  // text after the string's end
    if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
    if (c != '\\') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 >= end) return std::nullopt;
    const char e = literal[i + 1];
    i += 2;
    switch (e) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        std::optional<uint32_t> unit = ReadHex4(literal.substr(0, end), i);
        if (!unit) return std::nullopt;
        i += 4;
        uint32_t cp = *unit;
        if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate needs its low half
          std::optional<uint32_t> low;
          if (i + 1 < end && literal[i] == '\\' && literal[i + 1] == 'u') {
            low = ReadHex4(literal.substr(0, end), i + 2);
          }
          if (!low || *low < 0xDC00 || *low > 0xDFFF) return std::nullopt;
          i += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (*low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return std::nullopt;  // a lone low surrogate
        }
        AppendUtf8(out, cp);
        break;
      }
      default: return std::nullopt;
    }
  }
  return out;
}

}  // namespace farm::internal
