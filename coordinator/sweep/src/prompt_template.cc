#include "prompt_template.h"

#include <algorithm>

#include "suggest.h"

namespace farm::sweep {
namespace {

// Calls on_text(literal) and on_placeholder(name) in order; returns problems.
template <typename OnText, typename OnPlaceholder>
std::vector<std::string> Walk(std::string_view text, OnText on_text, OnPlaceholder on_placeholder) {
  std::vector<std::string> problems;
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      on_text(std::string_view(&text[i], 1));
      i += 2;
      continue;
    }
    if (c == '}') {
      problems.push_back("unmatched '}' at character " + std::to_string(i + 1) +
                         "; expected '}}' for a literal brace");
      ++i;
      continue;
    }
    if (c != '{') {
      std::size_t next = text.find_first_of("{}", i);
      if (next == std::string_view::npos) next = text.size();
      on_text(text.substr(i, next - i));
      i = next;
      continue;
    }
    std::size_t close = text.find('}', i);
    if (close == std::string_view::npos) {
      problems.push_back("unclosed '{' at character " + std::to_string(i + 1) +
                         "; expected a placeholder such as {token}, or '{{' for a brace");
      break;
    }
    std::string name(text.substr(i + 1, close - i - 1));
    const auto& known = TemplatePlaceholders();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      problems.push_back("unknown placeholder '{" + name + "}'; expected one of: {token}, " +
                         "{tone}, {pose}" + DidYouMean(name, known));
    } else {
      on_placeholder(name);
    }
    i = close + 1;
  }
  return problems;
}

}  // namespace

const std::vector<std::string>& TemplatePlaceholders() {
  static const std::vector<std::string> kNames = {"token", "tone", "pose"};
  return kNames;
}

TemplateScan ScanTemplate(std::string_view text) {
  TemplateScan scan;
  scan.problems = Walk(
      text, [](std::string_view) {},
      [&](const std::string& name) {
        if (std::find(scan.used.begin(), scan.used.end(), name) == scan.used.end()) {
          scan.used.push_back(name);
        }
      });
  return scan;
}

std::string ExpandTemplate(std::string_view text, const TemplateValues& values) {
  std::string out;
  Walk(
      text, [&](std::string_view literal) { out += literal; },
      [&](const std::string& name) {
        if (name == "token") {
          out += values.token;
        } else if (name == "tone") {
          out += values.tone;
        } else {
          std::string pose = values.pose;
          std::replace(pose.begin(), pose.end(), '_', ' ');
          out += pose;
        }
      });
  return out;
}

}  // namespace farm::sweep
