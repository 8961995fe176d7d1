// CURVE key pairs (Curve25519, as ZeroMQ's CURVE mechanism uses them) in Z85 text, and
// the two files that hold them. Target farm_curve_keys: depends on libsodium only, never
// on ZeroMQ, so farmctl can generate keys without linking zmq. Its keys are byte-for-byte
// what zmq_curve_keypair / zmq_curve_public produce (tests/transport checks this).
//
// Key file (written by `farmctl keys gen`, read by farmd and farm-agent):
//     public: <40 Z85 characters>
//     secret: <40 Z85 characters>      (absent in a public-only .pub file)
// Blank lines and lines starting with '#' are ignored. Files holding a secret are
// created with mode 0600.
//
// Allow-list file (farmd's admitted agent keys): one Z85 public key per line, optionally
// followed by whitespace and a '#' comment; other lines starting with '#' are comments
// ('#' is also a Z85 character, so a line whose first word is a valid key is a key).
//
// Errors are InvalidArgument naming the file and line ("agents.allow:3: ..."), NotFound
// for a missing file, AlreadyExists when a write would overwrite without permission.
// All functions are thread-safe.
#pragma once

#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::transport {

inline constexpr std::size_t kCurveKeyBytes = 32;
inline constexpr std::size_t kCurveZ85Chars = 40;

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters; empty when only the public key is known
};

// A fresh random key pair. Internal when libsodium cannot initialise.
StatusOr<CurveKeyPair> GenerateCurveKeyPair();

// The public key belonging to a Z85 secret key; InvalidArgument if it is not valid Z85
// of 32 bytes.
StatusOr<std::string> CurvePublicFromSecret(const std::string& secret_z85);

// Z85 (ZeroMQ RFC 32) for data whose size is a multiple of 4 / text whose size is a
// multiple of 5. Decode returns InvalidArgument on a bad length or character.
StatusOr<std::string> Z85Encode(const std::string& bytes);
StatusOr<std::string> Z85Decode(const std::string& text);

// True when `key` is 40 Z85 characters that decode to 32 bytes.
bool IsValidCurveKey(const std::string& key);

// Writes `keys` to `path`; with an empty secret only the public line is written. Mode
// 0600 when a secret is written, 0644 otherwise. AlreadyExists if the file exists and
// !overwrite.
Status WriteCurveKeyFile(const std::string& path, const CurveKeyPair& keys, bool overwrite);

// Reads a key file. A secret, when present, must match the public key.
StatusOr<CurveKeyPair> ReadCurveKeyFile(const std::string& path);

// Reads an allow-list file; keys are returned in file order, duplicates kept once.
StatusOr<std::vector<std::string>> ReadAllowListFile(const std::string& path);

}  // namespace farm::transport
