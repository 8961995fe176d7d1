// JSON string literals as Python's json.dumps(s, ensure_ascii=False) writes them and
// json.loads reads them: the quoting A1111 uses for infotext values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace farm::internal {

// "\"...\"" with \" \\ \n \r \t \b \f and \u00XX for other control characters; other
// characters (UTF-8 included) are kept.
std::string JsonQuote(std::string_view utf8);

// The decoded string of a complete JSON string literal (surrounding quotes included);
// nullopt when it is not one (bad escape, raw control character, text after the end).
std::optional<std::string> JsonUnquote(std::string_view literal);

}  // namespace farm::internal
