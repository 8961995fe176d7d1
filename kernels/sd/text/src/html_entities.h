// HTML5 named character references, for the HTML unescaping CLIP's text cleanup does.
#pragma once

#include <string_view>

namespace farm::sd {

struct HtmlEntity {
  std::string_view name;  // without the '&'; the legacy names exist with and without ';'
  std::string_view text;  // UTF-8
};

// The entity called exactly `name` (e.g. "amp;", "amp", "notin;"), or null.
const HtmlEntity* FindHtmlEntity(std::string_view name);

}  // namespace farm::sd
