// HTML5 named character references for the HTML unescaping of CLIP's text clean-up: the
// lookup. The table itself is data (data/html5_entities.inc).
#include "html_entities.h"

#include <algorithm>
#include <iterator>

namespace farm::sd {
namespace {

constexpr HtmlEntity kEntities[] = {
#include "html5_entities.inc"
};

}  // namespace

const HtmlEntity* FindHtmlEntity(std::string_view name) {
  const auto* end = std::end(kEntities);
  const auto* it = std::lower_bound(std::begin(kEntities), end, name,
                                    [](const HtmlEntity& e, std::string_view n) { return e.name < n; });
  return it != end && it->name == name ? it : nullptr;
}

}  // namespace farm::sd
