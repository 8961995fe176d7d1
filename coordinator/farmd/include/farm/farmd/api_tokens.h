// Bearer tokens of the HTTP API: farmd keeps only their SHA-256 and compares in constant
// time. Two kinds: admin (every route) and read (GET only: dashboards, CI, read commands).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::farmd {

enum class TokenKind { kAdmin, kRead };

struct ApiToken {
  TokenKind kind = TokenKind::kAdmin;
  std::string sha256_hex;  // 64 lower-case hex digits; the token itself is not kept
};

// "admin" or "read"; InvalidArgument otherwise.
StatusOr<TokenKind> ParseTokenKind(std::string_view text);
const char* TokenKindName(TokenKind kind);

// An entry as written in a tokens file or given to --token: "sha256:<64 hex>", or a plain
// token (older configs: hashed here, the plain text is not kept). InvalidArgument for an
// empty entry or a malformed digest.
StatusOr<ApiToken> MakeApiToken(TokenKind kind, std::string_view entry);

// A tokens file: one "<kind> <entry>" per line ("admin sha256:ab12..."), '#' comments and
// blank lines ignored. InvalidArgument with the path and line number for a bad line.
StatusOr<std::vector<ApiToken>> ParseTokensFile(std::string_view text, const std::string& path);

// Equal in time that depends on neither content nor length: both sides are hashed and
// the digests compared without an early exit.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// The token an "Authorization: Bearer <token>" header carries matches, in constant time
// over every entry (no early exit), or nullptr.
const ApiToken* FindToken(const std::vector<ApiToken>& tokens, std::string_view authorization);

}  // namespace farm::farmd
