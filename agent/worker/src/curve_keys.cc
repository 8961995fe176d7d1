#include <zmq.h>

#include <sstream>

#include "farm/agent/agent.h"

namespace farm::agent {
namespace {

std::string Trim(std::string_view s) {
  const auto begin = s.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return "";
  const auto end = s.find_last_not_of(" \t\r");
  return std::string(s.substr(begin, end - begin + 1));
}

}  // namespace

Status ValidateZ85Key(std::string_view key) {
  if (key.size() != 40) {
    return InvalidArgument("a CURVE key must be 40 Z85 characters, got " +
                           std::to_string(key.size()));
  }
  uint8_t decoded[32];
  const std::string copy(key);
  if (zmq_z85_decode(decoded, copy.c_str()) == nullptr) {
    return InvalidArgument("a CURVE key contains characters outside the Z85 alphabet");
  }
  return Status::Ok();
}

StatusOr<CurveKeyPair> ParseCurveKeyPair(std::string_view text) {
  CurveKeyPair pair;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    const std::string trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    const auto colon = trimmed.find(':');
    const std::string where = "key file line " + std::to_string(line_no);
    if (colon == std::string::npos) {
      return InvalidArgument(where + ": expected \"public: <z85>\" or \"secret: <z85>\"");
    }
    const std::string name = Trim(std::string_view(trimmed).substr(0, colon));
    const std::string value = Trim(std::string_view(trimmed).substr(colon + 1));
    std::string* target = name == "public"   ? &pair.public_key
                          : name == "secret" ? &pair.secret_key
                                             : nullptr;
    if (target == nullptr) return InvalidArgument(where + ": unknown field \"" + name + "\"");
    Status valid = ValidateZ85Key(value);
    if (!valid.ok()) return valid.WithContext(where);
    *target = value;
  }
  if (pair.public_key.empty() || pair.secret_key.empty()) {
    return InvalidArgument("key file needs both \"public:\" and \"secret:\" lines");
  }
  return pair;
}

StatusOr<CurveKeyPair> GenerateCurveKeyPair() {
  char public_key[41];
  char secret_key[41];
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    return Internal(std::string("zmq_curve_keypair failed: ") + zmq_strerror(zmq_errno()));
  }
  return CurveKeyPair{public_key, secret_key};
}

}  // namespace farm::agent
