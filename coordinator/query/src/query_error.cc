// QueryError -> the text a user reads: what is wrong, the expression, a caret line.
#include <string>

#include "farm/query/expression.h"
#include "text_util.h"

namespace farm::query {
namespace {

// Longer texts are not echoed: a caret under a 10 kB line helps nobody.
constexpr std::size_t kMaxEchoBytes = 2000;

// Control characters become spaces so that the caret line stays aligned.
std::string Printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

}  // namespace

std::string FormatQueryError(std::string_view text, const QueryError& error) {
  std::string out = error.message;
  if (text.size() > kMaxEchoBytes) return out;
  const std::size_t offset = std::min(error.offset, text.size());
  const std::size_t end = std::min(offset + error.length, text.size());
  const std::size_t column = DisplayWidth(text.substr(0, offset));
  std::size_t width = DisplayWidth(text.substr(offset, end - offset));
  if (width == 0) width = 1;  // the end of the text, or a zero-length place
  out += "\n  " + Printable(text);
  out += "\n  " + std::string(column, ' ') + std::string(width, '^');
  return out;
}

Status ToStatus(std::string_view text, const QueryError& error) {
  return InvalidArgument(FormatQueryError(text, error));
}

}  // namespace farm::query
