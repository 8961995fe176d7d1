#include "text_encoding.h"

namespace farm::image::internal {

std::optional<std::string> Utf8ToLatin1(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const std::optional<uint32_t> cp = DecodeUtf8(text, &pos);
    if (!cp || *cp > 0xFF) return std::nullopt;
    out.push_back(static_cast<char>(*cp));
  }
  return out;
}

std::string Latin1ToUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) AppendUtf8(out, static_cast<unsigned char>(c));
  return out;
}

}  // namespace farm::image::internal
