// ExtractLoraTags: A1111's extra-network tags `<kind:params>` cut out of a prompt.
#include <string>
#include <string_view>
#include <vector>

#include "farm/sd/prompt.h"
#include "number_parse.h"
#include "unicode_text.h"

namespace farm::sd {
namespace {

std::string_view TrimSpaces(std::string_view text, size_t& offset) {
  size_t begin = 0;
  while (begin < text.size() && (text[begin] == ' ' || text[begin] == '\t')) ++begin;
  size_t end = text.size();
  while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t')) --end;
  offset += begin;
  return text.substr(begin, end - begin);
}

// End of the run of word characters starting at `pos`.
size_t WordEnd(std::string_view text, size_t pos) {
  while (pos < text.size()) {
    const unicode::DecodedChar ch = unicode::DecodeAt(text, pos);
    if (!ch.valid || !unicode::IsWordChar(ch.code_point)) break;
    pos += ch.length;
  }
  return pos;
}

}  // namespace

StatusOr<LoraExtraction> ExtractLoraTags(std::string_view prompt) {
  const auto error = [&](size_t pos, const std::string& what) {
    return InvalidArgument("prompt column " + std::to_string(unicode::ColumnAt(prompt, pos)) + ": " + what);
  };
  LoraExtraction result;
  size_t pos = 0;
  while (pos < prompt.size()) {
    const size_t open = prompt.find('<', pos);
    if (open == std::string_view::npos) {
      result.prompt.append(prompt.substr(pos));
      break;
    }
    const size_t kind_end = WordEnd(prompt, open + 1);
    if (kind_end == open + 1 || kind_end >= prompt.size() || prompt[kind_end] != ':') {
      // Not `<word:`, so not a tag ("<3", "<b>").
      result.prompt.append(prompt.substr(pos, open + 1 - pos));
      pos = open + 1;
      continue;
    }
    const std::string kind(prompt.substr(open + 1, kind_end - open - 1));
    const size_t close = prompt.find('>', kind_end);
    if (close == std::string_view::npos) return error(open, "tag <" + kind + ":...> has no closing '>'");
    const size_t next_open = prompt.find('<', open + 1);
    if (next_open < close) {
      return error(open, "tag <" + kind + ":...> is not closed before the '<' at column " +
                             std::to_string(unicode::ColumnAt(prompt, next_open)));
    }
    if (kind != "lora" && kind != "lyco") {
      return error(open, "extra network <" + kind + ":...> is not supported (only lora and lyco)");
    }

    // Parameters split on ':' with their byte offsets, for columns in errors.
    std::vector<std::pair<std::string_view, size_t>> params;
    for (size_t start = kind_end + 1;;) {
      const size_t colon = prompt.find(':', start);
      const size_t end = colon < close ? colon : close;
      size_t offset = start;
      const std::string_view param = TrimSpaces(prompt.substr(start, end - start), offset);
      params.emplace_back(param, offset);
      if (end == close) break;
      start = end + 1;
    }
    LoraTag tag;
    tag.name = std::string(params[0].first);
    if (tag.name.empty()) return error(params[0].second, "<" + kind + ":...> has an empty name");
    if (params.size() >= 2 && !ParseDecimal(params[1].first, tag.weight)) {
      return error(params[1].second, "weight '" + std::string(params[1].first) + "' of <" + kind + ":" +
                                         tag.name + "> is not a number");
    }
    if (params.size() > 2) {
      return error(params[2].second, "<" + kind + ":" + tag.name +
                                         ":...> has more than a name and a weight; write <" + kind +
                                         ":name:weight>");
    }
    result.loras.push_back(std::move(tag));
    result.prompt.append(prompt.substr(pos, open - pos));
    pos = close + 1;
  }
  return result;
}

}  // namespace farm::sd
