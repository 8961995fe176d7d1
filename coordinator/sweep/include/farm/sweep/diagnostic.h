// Problems found in a sweep spec or a preset file, reported all at once.
//
// Every diagnostic points at the YAML node that is wrong, so that an engineer can jump
// to it from a terminal: "file:line:column: key.path: what was wrong; expected X".
#pragma once

#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::sweep {

struct Diagnostic {
  std::string file;     // as given to the parser (usually the path the user typed)
  int line = 0;         // 1-based; 0 when the problem has no place (e.g. an empty file)
  int column = 0;       // 1-based
  std::string path;     // key path, e.g. "grid.sampler.values.warm[1]"; empty for syntax
  std::string message;  // "what was wrong; expected X[; did you mean 'Y'?]"

  // "file:line:column: path: message" (parts without a value are left out).
  std::string ToString() const;
};

// One diagnostic per line, in the order given.
std::string FormatDiagnostics(const std::vector<Diagnostic>& diagnostics);

// InvalidArgument whose message is FormatDiagnostics(diagnostics); OK when empty.
Status DiagnosticsToStatus(const std::vector<Diagnostic>& diagnostics);

}  // namespace farm::sweep
