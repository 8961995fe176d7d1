// API tokens: hashed storage and constant-time matching (api_tokens.h).
#include "farm/farmd/api_tokens.h"

#include "farm/schemas/sha256.h"

namespace farm::farmd {
namespace {

// Both digests are 64 hex digits: the loop runs the same for every pair.
bool DigestsEqual(std::string_view a, std::string_view b) {
  if (a.size() != 64 || b.size() != 64) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < 64; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool IsLowerHex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

}  // namespace

StatusOr<TokenKind> ParseTokenKind(std::string_view text) {
  if (text == "admin") return TokenKind::kAdmin;
  if (text == "read") return TokenKind::kRead;
  return InvalidArgument("token kind '" + std::string(text) + "': expected admin or read");
}

const char* TokenKindName(TokenKind kind) { return kind == TokenKind::kRead ? "read" : "admin"; }

StatusOr<ApiToken> MakeApiToken(TokenKind kind, std::string_view entry) {
  if (entry.empty()) return InvalidArgument("empty API token");
  constexpr std::string_view kPrefix = "sha256:";
  if (entry.substr(0, kPrefix.size()) == kPrefix) {
    std::string_view hex = entry.substr(kPrefix.size());
    if (hex.size() != 64 || !IsLowerHex(hex)) {
      return InvalidArgument("API token entry 'sha256:...': expected 64 lower-case hex digits");
    }
    return ApiToken{kind, std::string(hex)};
  }
  return ApiToken{kind, Sha256Hex(entry)};
}

StatusOr<std::vector<ApiToken>> ParseTokensFile(std::string_view text, const std::string& path) {
  std::vector<ApiToken> tokens;
  int line_number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = Trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    const std::size_t space = line.find_first_of(" \t");
    const std::string where = path + ":" + std::to_string(line_number) + ": ";
    if (space == std::string_view::npos) {
      return InvalidArgument(where + "expected '<admin|read> sha256:<hex>'");
    }
    auto kind = ParseTokenKind(line.substr(0, space));
    if (!kind.ok()) return InvalidArgument(where + kind.status().message());
    auto token = MakeApiToken(*kind, Trim(line.substr(space + 1)));
    if (!token.ok()) return InvalidArgument(where + token.status().message());
    tokens.push_back(std::move(*token));
  }
  return tokens;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return DigestsEqual(Sha256Hex(a), Sha256Hex(b));
}

const ApiToken* FindToken(const std::vector<ApiToken>& tokens, std::string_view authorization) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (authorization.substr(0, kPrefix.size()) != kPrefix) return nullptr;
  const std::string digest = Sha256Hex(authorization.substr(kPrefix.size()));
  const ApiToken* found = nullptr;
  for (const ApiToken& token : tokens) {
    if (DigestsEqual(digest, token.sha256_hex) && found == nullptr) found = &token;
  }
  return found;
}

}  // namespace farm::farmd
