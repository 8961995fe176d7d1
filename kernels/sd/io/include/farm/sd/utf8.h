// UTF-8 encoding of one code point, shared by the JSON reader and the tokenizer.
#pragma once

#include <string>

namespace farm::sd {

// Appends `code_point` (at most U+10FFFF) to `out` as UTF-8.
void AppendUtf8(char32_t code_point, std::string& out);

}  // namespace farm::sd
