// Prompt templates: "{token}" is the identity's instance token, "{tone}" the tone
// preset's prompt words, "{pose}" the pose name with '_' read as a space. "{{" and "}}"
// stand for literal braces.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace farm::sweep {

const std::vector<std::string>& TemplatePlaceholders();  // token, tone, pose

struct TemplateScan {
  std::vector<std::string> used;      // placeholders used, in order of first use
  std::vector<std::string> problems;  // "unknown placeholder '{x}'; expected ...", ...
};
TemplateScan ScanTemplate(std::string_view text);

struct TemplateValues {
  std::string token;
  std::string tone;
  std::string pose;
};
// Substitutes placeholders; `text` must have scanned without problems.
std::string ExpandTemplate(std::string_view text, const TemplateValues& values);

}  // namespace farm::sweep
