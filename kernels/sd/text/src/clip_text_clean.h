// The text clean-up openai's CLIP tokenizer does before splitting: ftfy.fix_text (6.3.1
// defaults; its mojibake repair `fix_encoding` only for UTF-8 read as Windows-1252 or
// Latin-1, without ftfy's badness heuristic), html.unescape twice, whitespace
// collapsing and Python's str.lower(). Works on code points; invalid UTF-8 bytes read as
// U+FFFD, as Python would never see them.
#pragma once

#include <string>
#include <string_view>

namespace farm::sd {

std::u32string DecodeUtf8Lossy(std::string_view text);
std::string EncodeUtf8(std::u32string_view text);

// ftfy.fix_text: line by line, each line's fixes repeated until nothing changes.
std::u32string FtfyFixText(std::u32string_view text);
// Python's html.unescape (HTML5 references, legacy names without ';' by longest prefix).
std::u32string HtmlUnescape(std::u32string_view text);
// Python's str.lower() (full mappings, final sigma).
std::u32string PythonLower(std::u32string_view text);
// The `regex` module's \s.
bool IsRegexSpace(char32_t c);

}  // namespace farm::sd
