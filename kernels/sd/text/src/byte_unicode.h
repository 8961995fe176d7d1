// CLIP's bytes_to_unicode: every byte gets a printable character so that BPE tokens are
// strings without spaces or control characters. Bytes that are printable in Latin-1
// ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves; the other 68 map to
// U+0100 onwards in byte order.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace farm::sd {

// Byte -> its character, UTF-8 encoded.
const std::array<std::string, 256>& ByteToUnicode();
// Character (UTF-8) -> byte, the inverse table.
const std::unordered_map<std::string, uint8_t>& UnicodeToByte();
// The 256 bytes in CLIP's vocabulary order: the self-mapped bytes first, then the rest.
const std::array<uint8_t, 256>& ByteVocabularyOrder();

}  // namespace farm::sd
