#include "farm/schemas/canonical_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "canonical_json_writer.h"

namespace farm {
namespace {

constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

}  // namespace

StatusOr<std::string> CanonicalNumber(double value) {
  if (!std::isfinite(value)) {
    return InvalidArgument("number is not finite (NaN and infinities have no JSON form)");
  }
  if (value == 0.0) return std::string("0");  // also -0
  if (std::trunc(value) == value && std::fabs(value) < kMaxExactInteger) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

void AppendCanonicalString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

Status AppendCanonical(std::string& out, const nlohmann::json& value) {
  using Type = nlohmann::json::value_t;
  switch (value.type()) {
    case Type::null: out += "null"; return Status::Ok();
    case Type::boolean: out += value.get<bool>() ? "true" : "false"; return Status::Ok();
    case Type::number_integer: out += std::to_string(value.get<std::int64_t>()); return Status::Ok();
    case Type::number_unsigned: out += std::to_string(value.get<std::uint64_t>()); return Status::Ok();
    case Type::number_float: {
      FARM_ASSIGN_OR_RETURN(std::string number, CanonicalNumber(value.get<double>()));
      out += number;
      return Status::Ok();
    }
    case Type::string: AppendCanonicalString(out, value.get_ref<const std::string&>()); return Status::Ok();
    case Type::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : value) {
        if (!first) out.push_back(',');
        first = false;
        FARM_RETURN_IF_ERROR(AppendCanonical(out, item));
      }
      out.push_back(']');
      return Status::Ok();
    }
    case Type::object: {
      // nlohmann::json stores objects in a std::map: iteration is already in byte order.
      out.push_back('{');
      bool first = true;
      for (const auto& [key, item] : value.items()) {
        if (!first) out.push_back(',');
        first = false;
        AppendCanonicalString(out, key);
        out.push_back(':');
        FARM_RETURN_IF_ERROR(AppendCanonical(out, item));
      }
      out.push_back('}');
      return Status::Ok();
    }
    case Type::binary:
    case Type::discarded: break;
  }
  return InvalidArgument("value has no JSON form");
}

StatusOr<std::string> CanonicalizeJson(std::string_view json_text) {
  nlohmann::json parsed = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return InvalidArgument("malformed JSON");
  std::string out;
  FARM_RETURN_IF_ERROR(AppendCanonical(out, parsed));
  return out;
}

}  // namespace farm
