#include "byte_unicode.h"

#include "unicode_text.h"

namespace farm::sd {
namespace {

bool MapsToItself(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; }

struct ByteTables {
  std::array<std::string, 256> to_unicode;
  std::unordered_map<std::string, uint8_t> to_byte;
  std::array<uint8_t, 256> vocabulary_order{};

  ByteTables() {
    int next_shifted = 0;
    int order = 0;
    for (int b = 0; b < 256; ++b) {
      if (MapsToItself(b)) vocabulary_order[order++] = static_cast<uint8_t>(b);
    }
    for (int b = 0; b < 256; ++b) {
      char32_t cp = static_cast<char32_t>(b);
      if (!MapsToItself(b)) {
        cp = 256 + next_shifted++;
        vocabulary_order[order++] = static_cast<uint8_t>(b);
      }
      unicode::AppendUtf8(cp, to_unicode[b]);
      to_byte[to_unicode[b]] = static_cast<uint8_t>(b);
    }
  }
};

const ByteTables& Tables() {
  static const ByteTables tables;
  return tables;
}

}  // namespace

const std::array<std::string, 256>& ByteToUnicode() { return Tables().to_unicode; }
const std::unordered_map<std::string, uint8_t>& UnicodeToByte() { return Tables().to_byte; }
const std::array<uint8_t, 256>& ByteVocabularyOrder() { return Tables().vocabulary_order; }

}  // namespace farm::sd
